#!/usr/bin/env bash
# Supervisor figures: start-N, daemon memory, kill -9 -> new PID, status latency, idle CPU,
# log ingest (`logs`, not part of `all`), journalctl against `daimon logs` on the same
# 10 M lines (`journald [--lines N]`, not part of `all`; needs systemd-journal-remote).
# Usage: bench/supervisor.sh [start|restart|status|idle|timers|logs|journald|all] [--n 100,1000] [--reps 20]
# Side-by-side figures with runit, s6, pm2 and supervisord come from a peer harness
# kept outside this repository (it runs daimon through DAIMON_BIN=target/release/daimon);
# nothing here needs it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p daimon -p daimond -p daimon-bench
exec "${CARGO_TARGET_DIR:-target}/release/daimon-bench" "$@"
