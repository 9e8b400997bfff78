#!/usr/bin/env bash
# `daimon top` figures: the CPU of an idle `top` showing N running units, and
# daimond's CPU over the same span, against daimond's with no `top` at all.
# CPU time is read from /proc/PID/task/*/schedstat before and after.
# Usage: bench/top.sh [N units (1000)] [seconds (10)]    (needs tmux)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
secs=${2:-10}
command -v tmux >/dev/null || { echo "tmux is not installed: apt-get install tmux" >&2; exit 1; }
cargo build --release -q -p daimon -p daimond
bin="$PWD/${CARGO_TARGET_DIR:-target}/release"

home=$(mktemp -d)
export DAIMON_HOME=$home
sock=$home/tmux.sock
daemon=
cleanup() {
    tmux -S "$sock" kill-server 2>/dev/null || true
    "$bin/daimon" shutdown >/dev/null 2>&1 || true
    if [ -n "$daemon" ]; then kill "$daemon" 2>/dev/null || true; fi
    rm -rf "$home"
}
trap cleanup EXIT

# CPU time of a process in ns: the sum of its threads' schedstat (ns, but a
# thread that ends in between takes its time with it), or stat's utime +
# stime when that is more (it keeps ended threads' time, in 10 ms ticks).
hz=$(getconf CLK_TCK)
cpu_ns() {
    local sched ticks
    sched=$(cat /proc/"$1"/task/*/schedstat | awk '{ t += $1 } END { printf "%d", t }')
    ticks=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat")
    echo "$sched $((ticks * 1000000000 / hz))"
}
# Two cpu_ns readings as a percent of one core over $secs seconds, and in ms.
pct() { # before-sched before-ticks after-sched after-ticks
    awk -v a="$1" -v b="$3" -v ta="$2" -v tb="$4" -v s="$secs" 'BEGIN {
        d = b - a; if (tb - ta > d) d = tb - ta; if (d < 0) d = 0
        printf "%.3f %% of a core (%.1f ms CPU over %d s)", d / 1e7 / s, d / 1e6, s }'
}
# Percent of one core used by PID over $secs seconds (waits that long).
cpu_over() {
    local a b
    a=$(cpu_ns "$1"); sleep "$secs"; b=$(cpu_ns "$1")
    pct $a $b
}
wait_for() { # what, command...
    local what=$1; shift
    for _ in $(seq 1 600); do "$@" && return 0; sleep 0.1; done
    echo "timed out waiting for $what" >&2; exit 1
}

# DAIMON_HOME holds the units (units/) and the socket (run/daimond.sock).
units=$home/units
mkdir -p "$units"
"$bin/daimond" --foreground >"$home/daimond.log" 2>&1 &
daemon=$!
wait_for "daimond's socket" test -S "$home/run/daimond.sock"
names=()
for i in $(seq -w 1 "$n"); do
    printf '[Service]\nExecStart=/bin/sleep 100000\n' >"$units/s$i.service"
    names+=("s$i")
done
"$bin/daimon" daemon-reload
"$bin/daimon" start "${names[@]}"
sleep 2

echo "| figure | N | value |"
echo "|---|---|---|"
echo "| daimond idle, no top | $n | $(cpu_over "$daemon") |"

tmux -S "$sock" new-session -d -s top -x 120 -y 40 "exec $bin/daimon top"
wait_for "top's table" sh -c "tmux -S '$sock' capture-pane -p -t top | grep -q '$n of $n units'"
# The pane runs `daimon top` itself (no shell in between).
top=$(tmux -S "$sock" display-message -p -t top '#{pane_pid}')
sleep 2
a_top=$(cpu_ns "$top"); a_d=$(cpu_ns "$daemon")
sleep "$secs"
b_top=$(cpu_ns "$top"); b_d=$(cpu_ns "$daemon")
echo "| daimon top idle | $n | $(pct $a_top $b_top) |"
echo "| daimond while top is idle | $n | $(pct $a_d $b_d) |"
