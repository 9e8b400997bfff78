#!/usr/bin/env bash
# Supervisor figures: start-N, daemon memory, kill -9 -> new PID, status latency, idle CPU.
# Usage: bench/supervisor.sh [start|restart|status|idle|timers|all] [--n 100,1000] [--reps 20]
# For a side-by-side with runit, s6, pm2 and supervisord, run the peer harness in
# ../shared/peer-bench with DAIMON_BIN pointing at target/release/daimon.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p daimon -p daimond -p daimon-bench
exec "${CARGO_TARGET_DIR:-target}/release/daimon-bench" "$@"
