#!/usr/bin/env bash
# Builds daimon, runs examples/hello.sh as a supervised service and shows its logs.
# The service keeps running afterwards: `target/release/daimon stop hello` stops it,
# `target/release/daimon shutdown` stops the daemon too.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p daimon -p daimond
daimon=target/release/daimon
# A second run of the demo starts the service afresh.
"$daimon" stop hello >/dev/null 2>&1 || true
"$daimon" run --name hello --restart always -- "$PWD/examples/hello.sh"
sleep 3
"$daimon" status
echo
"$daimon" logs hello -n 10
