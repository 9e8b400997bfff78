#!/usr/bin/env bash
# Builds daimon and daimond (release) and puts both on PATH.
#
#   bash install.sh                  # as root: /usr/local/bin; else ~/.local/bin
#   bash install.sh --prefix DIR     # DIR/bin
#   bash install.sh --uninstall [--prefix DIR]
#
# The two binaries go side by side: `daimon` starts the `daimond` next to it.
set -euo pipefail
cd "$(dirname "$0")"

prefix=""
uninstall=0
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a directory" >&2; exit 1; }
                  prefix=$2; shift 2 ;;
        --prefix=*) prefix=${1#--prefix=}; shift ;;
        --uninstall) uninstall=1; shift ;;
        -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown argument '$1' (try --help)" >&2; exit 1 ;;
    esac
done
if [ -z "$prefix" ]; then
    if [ "$(id -u)" = 0 ]; then prefix=/usr/local; else prefix="$HOME/.local"; fi
fi
bin="$prefix/bin"

if [ "$uninstall" = 1 ]; then
    rm -f "$bin/daimon" "$bin/daimond"
    echo "removed daimon and daimond from $bin"
    exit 0
fi

cargo build --release --locked -p daimon -p daimond
target="${CARGO_TARGET_DIR:-target}/release"
mkdir -p "$bin"
for b in daimon daimond; do
    # Copy, then rename over: a running daimond keeps its (old) file.
    install -m 755 "$target/$b" "$bin/.$b.new"
    mv -f "$bin/.$b.new" "$bin/$b"
done
echo "installed daimon and daimond in $bin ($(du -h "$bin/daimon" | cut -f1) and $(du -h "$bin/daimond" | cut -f1))"
case ":$PATH:" in
    *":$bin:"*) ;;
    *) echo "note: $bin is not on your PATH; add it, e.g.: echo 'export PATH=\"$bin:\$PATH\"' >> ~/.profile" ;;
esac
