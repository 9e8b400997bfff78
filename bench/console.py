#!/usr/bin/env python3
"""Figures for services with a terminal (`daimon run --tty`, `daimon attach`).

  latency     keystroke-to-echo through `daimon attach` (the service's terminal
              echoes, as a shell does), against the same keystroke on a pty
              with `cat` and no daimon (the floor) and under `script`
              (one pty in between, as screen or tmux add).
  throughput  bytes/s that a service writes to its terminal, every byte read
              by daimond and stored in the log store, against the same
              command under `script -q /dev/null` (a pty read by one process,
              nothing stored) as the reference.

Usage: bench/console.py [latency|throughput|all] [--size 256M] [--keys 2000]
Builds the release binaries first (set DAIMON_BIN_DIR to use others). Each run
uses a fresh DAIMON_HOME under /tmp, ended with `daimon shutdown`.
"""

import argparse
import json
import os
import pty
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def binaries():
    d = os.environ.get("DAIMON_BIN_DIR")
    if d:
        return os.path.join(d, "daimon")
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "daimon", "-p", "daimond"],
        cwd=ROOT,
        check=True,
    )
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "release", "daimon")


class Home:
    """A DAIMON_HOME with its daimond, shut down at the end."""

    def __init__(self, daimon):
        self.daimon = daimon
        self.dir = tempfile.mkdtemp(prefix="daimon-bench-console-")
        self.env = dict(os.environ, DAIMON_HOME=self.dir)

    def cli(self, *args, check=True):
        return subprocess.run(
            [self.daimon, *args], env=self.env, check=check, capture_output=True, text=True
        )

    def status(self, unit):
        out = self.cli("status", unit, "-o", "json", check=False).stdout
        try:
            return json.loads(out)[0]
        except (ValueError, IndexError):
            return {}

    def close(self):
        self.cli("shutdown", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def size_arg(s):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(s[:-1]) * units[s[-1].upper()] if s[-1].upper() in units else int(s)


def read_until(fd, want, deadline):
    got = b""
    while want not in got:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"waited for {want!r}, got {got[-200:]!r}")
        r, _, _ = select.select([fd], [], [], left)
        if r:
            got += os.read(fd, 65536)
    return got


def keystrokes(argv, env, n, ready):
    """Median and p99 (microseconds) from a byte written to the pty of `argv`
    to its echo read back; `ready`: what it prints once it listens."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(argv[0], argv, env)
    try:
        read_until(fd, ready, time.monotonic() + 10)
        # Let the first redraw settle.
        time.sleep(0.3)
        while select.select([fd], [], [], 0.05)[0]:
            os.read(fd, 65536)
        samples = []
        for i in range(n):
            if i % 500 == 499:
                # ^U empties the line (the line discipline holds 4095 bytes).
                os.write(fd, b"\x15")
                time.sleep(0.05)
                while select.select([fd], [], [], 0.02)[0]:
                    os.read(fd, 65536)
            t0 = time.perf_counter_ns()
            os.write(fd, b"x")
            read_until(fd, b"x", time.monotonic() + 5)
            samples.append((time.perf_counter_ns() - t0) / 1000)
        samples.sort()
        return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)


def latency(daimon, n):
    h = Home(daimon)
    try:
        h.cli("run", "--tty", "--name", "echo", "--", "cat")
        attach = keystrokes(
            [daimon, "attach", "echo"], h.env, n, b"detach with"
        )
    finally:
        h.close()
    env = dict(os.environ)
    direct = keystrokes(["sh", "-c", "echo ready; exec cat"], env, n, b"ready")
    script = keystrokes(
        ["script", "-q", "/dev/null", "-c", "echo ready; exec cat"], env, n, b"ready"
    )
    print(f"keystroke-to-echo, {n} keys (microseconds)   median      p99")
    print(f"  daimon attach (loopback socket)        {attach[0]:8.0f} {attach[1]:8.0f}")
    print(f"  a pty with cat, nothing between        {direct[0]:8.0f} {direct[1]:8.0f}")
    print(f"  script -q /dev/null (one pty between)  {script[0]:8.0f} {script[1]:8.0f}")


def writer(size):
    # 100-byte lines: `yes` of a 99-byte word.
    return f"yes \"$(head -c 99 /dev/zero | tr '\\0' x)\" | head -c {size}"


def throughput(daimon, size):
    # The end is seen by asking `status` every 100 ms: asking every 10 ms
    # took a third of the throughput of the --tty case, whose terminal is
    # read on daimond's event loop, the thread that answers `status` too.
    h = Home(daimon)
    try:
        h.cli("run", "--tty", "--restart", "no", "--name", "flood", "--", "sh", "-c", writer(size))
        t0 = time.monotonic()
        while h.status("flood").get("pid") is not None:
            time.sleep(0.1)
        tty = time.monotonic() - t0
        dropped = h.status("flood").get("logs_dropped")
        # The same through a log pipe (no terminal), to tell the pty's share.
        h.cli("run", "--restart", "no", "--name", "pipe", "--", "sh", "-c", writer(size))
        t0 = time.monotonic()
        while h.status("pipe").get("pid") is not None:
            time.sleep(0.1)
        pipe = time.monotonic() - t0
    finally:
        h.close()
    t0 = time.monotonic()
    subprocess.run(
        ["script", "-q", "/dev/null", "-c", writer(size)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        check=True,
    )
    script = time.monotonic() - t0
    mib = size / (1 << 20)
    print(f"{mib:.0f} MiB in 100-byte lines                          seconds      MiB/s")
    print(f"  daimon run --tty (pty, read and stored)       {tty:8.2f} {mib / tty:10.1f}")
    print(f"  daimon run (log pipe, stored)                 {pipe:8.2f} {mib / pipe:10.1f}")
    print(f"  script -q /dev/null (pty to /dev/null)        {script:8.2f} {mib / script:10.1f}")
    if dropped:
        print(f"  (log store: {dropped})")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", nargs="?", default="all", choices=["latency", "throughput", "all"])
    p.add_argument("--size", default="256M", help="bytes for throughput (K, M, G)")
    p.add_argument("--keys", type=int, default=2000, help="keystrokes for latency")
    a = p.parse_args()
    daimon = binaries()
    if a.what in ("latency", "all"):
        latency(daimon, a.keys)
    if a.what in ("throughput", "all"):
        throughput(daimon, size_arg(a.size))


if __name__ == "__main__":
    sys.exit(main())
