#!/usr/bin/env python3
"""Writes crates/daimond/code-order.txt: the functions (and read-only data) that
daimond runs in its life, which the linker then places next to each other.

Why: the kernel maps a program's code in 64 KiB runs around each page fault,
so what stays resident is every 64 KiB run that holds at least one function
daimond ever ran. Spread over the binary, those runs were 2.5 MiB of a 4 MiB
text; packed together they are a fraction of that.

How: each page of the binary that daimond touches must be read on its own, so
the binary is dropped from the page cache and the disk's read-ahead is set to
0 for the run: the pages then mapped in daimond (and its fd store) are exactly
the touched ones. daimond runs a day in its life (start-up, services run,
one printing 400,000 lines, crash and restart, status, logs, a timer, stop,
shutdown) first from a build
where every Rust function starts on a page of its own, which names the
functions that ran; then twice from the real build laid out by the list, which
drops what shared a page with them without running.

Run as root on an otherwise quiet machine, from the repository:
    python3 bench/code-layout.py
(it rebuilds target/release with the new list) and measure with
bench/supervisor.sh. Re-run it for a release (see "When" below).
Linux only; the list is a hint to LLD (unknown names are ignored), so a stale
list costs memory, never correctness.

When: at release time only, as the last step of the commit that sets a
release's version, never in ordinary commits. Measured on 7 December 2026
(rustc 1.95, x86_64; daimond + fd store PSS from `bench/supervisor.sh start
--n 100`, binaries in the page cache, median of 4 interleaved runs):

    list                                    idle      100 services
    regenerated for this tree              3.87 MiB   5.35 MiB
    of 21 November (39% of names found)    4.08 MiB   5.32 MiB
    none                                   4.59 MiB   5.77 MiB

Why not on every commit (six of its first eight commits only regenerated
it): the list cannot outlive its tree anyway. LLD matches exact symbol
names only (a demangled `t::alpha` is "no such symbol", checked with
rust-lld), and Rust's names carry a hash of the crate's metadata, which
cargo derives from its dependencies, their features and the release
profile: one profile change and a few dependency changes had left 2,930 of
the 7,394 names of 21 November, the C libraries' and the standard
library's. A further 40% are LLVM's `anon.<hash>.N` constants and
`.llvm.<hash>` locals, which change with the code around them. A
regenerated list is exact until the next such change; the stale one above
still keeps 70% of the gain, so nothing is lost between releases that a
commit could keep, and the binaries built from a release tag get all of it.
`python3 bench/code-layout.py --check` says how many of the list's names a
release build still has.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
OUT = os.path.join(ROOT, "crates", "daimond", "code-order.txt")
PAGE = os.sysconf("SC_PAGE_SIZE")


def run(*args, env=None, check=True):
    return subprocess.run(args, env=env, check=check, capture_output=True, text=True)


def readahead_file(path):
    """The read_ahead_kb file of the disk that holds `path`."""
    st = os.stat(path)
    dev = f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    for cand in (f"{dev}/queue/read_ahead_kb", f"{dev}/../queue/read_ahead_kb"):
        if os.path.exists(cand):
            return os.path.realpath(cand)
    sys.exit(f"no read_ahead_kb for {path}: cannot profile here")


def evict(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def mapped_pages(pid, exe_ino):
    """Addresses of the pages of the executable mapped in `pid`, with the file
    offset each one maps."""
    pages = set()
    maps = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            p = line.split()
            if len(p) >= 6 and int(p[4]) == exe_ino:
                lo, hi = (int(x, 16) for x in p[0].split("-"))
                maps.append((lo, hi, int(p[2], 16)))
    with open(f"/proc/{pid}/pagemap", "rb") as pm:
        for lo, hi, off in maps:
            n = (hi - lo) // PAGE
            pm.seek(lo // PAGE * 8)
            data = pm.read(n * 8)
            for i in range(n):
                entry = int.from_bytes(data[i * 8:i * 8 + 8], "little")
                if entry >> 63 & 1:
                    pages.add(off + i * PAGE)
    return pages


def workload(home, daimon):
    """A day in daimond's life, through the CLI."""
    env = dict(os.environ, DAIMON_HOME=home)
    units = os.path.join(home, "units")
    os.makedirs(units, exist_ok=True)
    with open(os.path.join(units, "web.service"), "w") as f:
        f.write("[Unit]\nDescription=a web server\n[Service]\nExecStart=/bin/sleep 100000\n"
                "Restart=always\nRestartSec=0\n[Install]\nWantedBy=multi-user.target\n")
    with open(os.path.join(units, "job.service"), "w") as f:
        f.write("[Service]\nType=oneshot\nExecStart=/bin/echo done\n")
    with open(os.path.join(units, "job.timer"), "w") as f:
        f.write("[Timer]\nOnActiveSec=1\nOnUnitActiveSec=1h\n")
    # A service that prints fast: the log pipeline's bulk path (big reads,
    # many lines per chunk) is part of daimond's day too.
    with open(os.path.join(units, "flood.service"), "w") as f:
        f.write("[Service]\nType=oneshot\nExecStart=/usr/bin/seq 1 400000\n")
    cli = lambda *a: run(daimon, *a, env=env, check=False)
    cli("list")
    cli("start", "web", "job.timer", "flood")
    cli("run", "--name", "bot", "--", "/bin/sh", "-c", "echo hello; exec sleep 100000")
    cli("enable", "web")
    for _ in range(3):
        cli("status")
        cli("status", "web")
        cli("status", "-o", "json")
        cli("list", "-o", "json")
        cli("logs", "-n", "20")
        cli("logs", "bot", "-o", "json")
        cli("logs", "flood", "-n", "5", "-g", "99")
        cli("timers")
        time.sleep(0.3)
    # A crash and its restart.
    out = cli("status", "web", "-o", "json").stdout
    import json
    try:
        pid = json.loads(out)[0]["pid"]
        os.kill(pid, signal.SIGKILL)
    except (ValueError, KeyError, IndexError, TypeError, ProcessLookupError):
        pass
    time.sleep(1.5)
    cli("restart", "bot")
    cli("reload", "web")
    cli("daemon-reload")
    cli("cat", "web")
    cli("stop", "bot")
    cli("status")
    return env


def touched_symbols(bin_dir):
    """The symbols of `bin_dir`/daimond that lie on a page daimond touched in
    the workload, in the order of the binary."""
    daimon = os.path.join(bin_dir, "daimon")
    daimond = os.path.join(bin_dir, "daimond")
    for b in (daimon, daimond):
        if not os.access(b, os.X_OK):
            sys.exit(f"{b} is missing")
    ino = os.stat(daimond).st_ino
    ra = readahead_file(daimond)
    old_ra = open(ra).read().strip()
    home = tempfile.mkdtemp(prefix="daimon-layout-")
    touched = set()
    env = None
    try:
        with open(ra, "w") as f:
            f.write("0")
        evict(daimond)
        env = workload(home, daimon)
        pid = int(open(os.path.join(home, "run", "daimond.pid")).read())
        pids = [pid] + [int(p) for p in run("ps", "--ppid", str(pid), "-o", "pid=").stdout.split()]
        for p in pids:
            try:
                touched |= mapped_pages(p, ino)
            except OSError:
                pass
    finally:
        with open(ra, "w") as f:
            f.write(old_ra)
        if env is not None:
            run(daimon, "shutdown", env=env, check=False)
        shutil.rmtree(home, ignore_errors=True)
    # A symbol's file offset: its address minus its section's, plus the
    # section's offset.
    secs = []
    for line in run("readelf", "-SW", daimond).stdout.splitlines():
        p = line.replace("[ ", "[").split()
        if len(p) > 5 and p[0].startswith("["):
            try:
                secs.append((int(p[3], 16), int(p[4], 16), int(p[5], 16)))
            except ValueError:
                pass

    def offset(addr):
        for a, off, size in secs:
            if a <= addr < a + size:
                return addr - a + off
        return None

    names = []
    seen = set()
    for line in run("nm", "-S", "-n", "--defined-only", daimond).stdout.splitlines():
        p = line.split()
        if len(p) != 4 or p[2] not in "tTrRwW":
            continue
        addr, size, name = int(p[0], 16), int(p[1], 16), p[3]
        off = offset(addr)
        if off is None or size == 0 or name in seen:
            continue
        first, last = off // PAGE * PAGE, (off + size - 1) // PAGE * PAGE
        if any(pg in touched for pg in range(first, last + 1, PAGE)):
            seen.add(name)
            names.append(name)
    return names


def build(target_dir, rustflags=None):
    env = dict(os.environ, CARGO_TARGET_DIR=target_dir)
    if rustflags:
        env["RUSTFLAGS"] = rustflags
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "daimond", "-p", "daimon"],
                   cwd=ROOT, env=env, check=True)
    return os.path.join(target_dir, "release")


def write(names):
    with open(OUT, "w") as f:
        f.write("\n".join(names) + "\n")


def main():
    # 1. A build whose every Rust function starts on a page of its own (the
    #    symbol names are those of a normal build: RUSTFLAGS do not change
    #    them): a touched page names the function that ran. The precompiled
    #    standard library and the C libraries are not aligned; their
    #    neighbours come along.
    profile_dir = os.path.join(TARGET, "code-layout")
    names = touched_symbols(build(profile_dir, "-C llvm-args=-align-all-functions=12"))
    write(names)
    print(f"aligned build: {len(names)} symbols")
    # 2. The real build, laid out by that list, run again: symbols on pages it
    #    did not touch did not run, and leave the list (twice, as the list
    #    packs tighter each time).
    for _ in range(2):
        real = set(touched_symbols(build(TARGET)))
        names = [n for n in names if n in real]
        write(names)
        print(f"pruned with the real build: {len(names)} symbols")
    check_workspace_build(names)
    print(f"{os.path.relpath(OUT, ROOT)} written; target/release/daimond is linked with it")


def check_workspace_build(names):
    """The names must also be those of `cargo build --release --workspace`.
    Mangled names carry a hash of each crate's features, and cargo unifies
    features over the packages it builds: a member that turns on a feature of
    a shared dependency (as `tempfile` did with `bitflags/std`) gives a whole
    workspace build other names, and its daimond would miss the order."""
    subprocess.run(["cargo", "build", "--release", "-q", "--workspace"], cwd=ROOT, check=True)
    exe = os.path.join(TARGET, "release", "daimond")
    have = set(run("nm", "--defined-only", exe).stdout.split())
    mangled = [n for n in names if n.startswith(("_ZN", "_R"))]
    missing = [n for n in mangled if n not in have]
    if len(missing) > len(mangled) // 20:
        sys.exit(f"{len(missing)} of {len(mangled)} names are not in a --workspace build's "
                 "daimond: a workspace member changes a dependency's features (compare "
                 "`cargo tree -e features -p daimond` with `--workspace`)")


def check():
    """How much of the list a release build still uses: the names of
    code-order.txt that target/release/daimond defines (LLD ignores the rest)."""
    exe = os.path.join(TARGET, "release", "daimond")
    have = set(run("nm", "--defined-only", exe).stdout.split())
    with open(OUT) as f:
        names = [n for n in f.read().split() if n]
    found = sum(n in have for n in names)
    print(f"{found} of {len(names)} names of {os.path.relpath(OUT, ROOT)} are in {exe} "
          f"({100 * found // max(len(names), 1)}%)")


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        check()
    else:
        main()
