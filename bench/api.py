#!/usr/bin/env python3
"""HTTP API figures: GET of N units, requests/s of one unit's status, first log
line over server-sent events, and daimond's idle PSS with and without the API.

Usage: bench/api.py [--units 1000] [--reps 30] [--bin target/release]
                    [--base-daimond PATH]   (another daimond for the PSS "before")
Build first: cargo build --release -p daimond -p daimon
Every daimond it starts lives in a temporary DAIMON_HOME and is ended by PID.
"""
import argparse, http.client, json, os, signal, statistics, subprocess, sys
import tempfile, threading, time


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


class Daemon:
    def __init__(self, daimond, daimon, env_extra=None, units=None):
        self.home = tempfile.mkdtemp(prefix="daimon-bench-api-")
        os.makedirs(f"{self.home}/units")
        for name, text in (units or {}).items():
            with open(f"{self.home}/units/{name}", "w") as f:
                f.write(text)
        self.env = dict(os.environ, DAIMON_HOME=self.home, **(env_extra or {}))
        self.daimon = daimon
        self.proc = subprocess.Popen([daimond, "--foreground"], env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while not os.path.exists(f"{self.home}/run/daimond.sock"):
            if time.time() > deadline:
                raise SystemExit("daimond did not start")
            time.sleep(0.01)
        self.cli("list")
        self.api = None
        if os.path.exists(f"{self.home}/run/api.json"):
            self.api = json.load(open(f"{self.home}/run/api.json"))

    def cli(self, *args):
        return subprocess.run([self.daimon, *args], env=self.env, check=True,
                              capture_output=True, text=True, timeout=600).stdout

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.api["port"], timeout=30)

    def headers(self):
        return {"Authorization": "Bearer " + self.api["token"]}

    def cpu_ticks(self):
        """daimond's user + system CPU so far, in clock ticks (every thread)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    def pss_kib(self):
        time.sleep(2)
        with open(f"/proc/{self.proc.pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])

    def stop(self):
        try:
            self.cli("shutdown")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


def get(c, d, path):
    c.request("GET", path, headers=d.headers())
    r = c.getresponse()
    body = r.read()
    assert r.status == 200, (r.status, body[:200])
    return body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--bin", default="target/release")
    ap.add_argument("--base-daimond")
    a = ap.parse_args()
    daimond, daimon = f"{a.bin}/daimond", f"{a.bin}/daimon"

    units = {f"bench-{i}.service": "[Service]\nExecStart=/bin/sleep 3600\n" for i in range(a.units)}
    fifo_dir = tempfile.mkdtemp(prefix="daimon-bench-fifo-")
    fifo = f"{fifo_dir}/fifo"
    os.mkfifo(fifo)
    # Echoes what the bench writes into the FIFO, one line at a time.
    units["echoer.service"] = ("[Service]\nExecStart=/usr/bin/env python3 -u -c "
                               f"\"for l in open('{fifo}'): print(l, end='')\"\n")
    d = Daemon(daimond, daimon, units=units)
    try:
        t = time.time()
        d.cli("start", *[f"bench-{i}" for i in range(a.units)])
        print(f"started {a.units} units in {time.time() - t:.1f} s")
        c = d.conn()
        lat, size = [], 0
        for _ in range(a.reps):
            t = time.perf_counter()
            size = len(get(c, d, "/api/units"))
            lat.append((time.perf_counter() - t) * 1000)
        print(f"GET /api/units ({a.units} running units, {size // 1024} KiB): "
              f"median {statistics.median(lat):.1f} ms, p95 {pct(lat, .95):.1f} ms")
        cli = []
        for _ in range(5):
            t = time.perf_counter()
            d.cli("status", "-o", "json")
            cli.append((time.perf_counter() - t) * 1000)
        print(f"  the same through the socket (daimon status -o json): median "
              f"{statistics.median(cli):.1f} ms")

        n = 2000
        t = time.perf_counter()
        for _ in range(n):
            get(c, d, "/api/units/bench-0")
        rate1 = n / (time.perf_counter() - t)
        counts = [0] * 4

        def worker(k):
            cc = d.conn()
            for _ in range(n // 4):
                get(cc, d, "/api/units/bench-0")
                counts[k] += 1
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        rate4 = sum(counts) / (time.perf_counter() - t)
        print(f"GET /api/units/bench-0: {rate1:.0f} req/s on one kept-alive connection, "
              f"{rate4:.0f} req/s on four")
        d.cli("stop", *[f"bench-{i}" for i in range(a.units)])

        # First log line over SSE: a line written into the echoer's FIFO, timed
        # until its event arrives.
        d.cli("start", "echoer")
        w = open(fifo, "w")
        c = d.conn()
        c.request("GET", "/api/logs/stream?unit=echoer&output=cat&lines=0", headers=d.headers())
        r = c.getresponse()
        assert r.status == 200
        lat = []
        time.sleep(0.3)
        for i in range(a.reps):
            msg = f"ping-{i}"
            t = time.perf_counter()
            w.write(msg + "\n")
            w.flush()
            while True:
                line = r.fp.readline().decode()
                if msg in line:
                    break
            lat.append((time.perf_counter() - t) * 1000)
            time.sleep(0.02)
        print(f"first log line over SSE after it is written: median {statistics.median(lat):.2f} ms, "
              f"p95 {pct(lat, .95):.2f} ms (pipe -> daimond -> store -> follower -> client)")
        w.close()
        r.close()

        # 10,000 malformed requests: garbage, wrong tokens, bad JSON, huge headers.
        import socket
        before = d.pss_kib()
        port = d.api["port"]
        bad = [
            b"\x16\x03\x01garbage\r\n\r\n",
            b"GET /api/units HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer nope\r\n\r\n" % port,
            b"POST /api/run HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
            b"Content-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"name\":1" % (port, d.api["token"].encode()),
            b"GET /api/units HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX: %s\r\n\r\n" % (port, b"a" * 40000),
        ]
        t = time.perf_counter()
        for i in range(10000):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(bad[i % len(bad)])
            try:
                s.recv(4096)
            except OSError:
                pass
            s.close()
        took = time.perf_counter() - t
        alive = d.proc.poll() is None
        after = d.pss_kib()
        print(f"10,000 malformed requests in {took:.1f} s: daimond {'alive' if alive else 'DEAD'}, "
              f"PSS {before} KiB before, {after} KiB after")
    finally:
        d.stop()
        os.unlink(fifo)
        os.rmdir(fifo_dir)

    # Idle PSS: no units, 2 s after start.
    rows = []
    for label, binary, env in [
        ("with the API", daimond, {}),
        ("API off (DAIMON_API_PORT=off)", daimond, {"DAIMON_API_PORT": "off"}),
    ] + ([("before (--base-daimond)", a.base_daimond, {})] if a.base_daimond else []):
        x = Daemon(binary, daimon, env_extra=env)
        try:
            rows.append((label, x.pss_kib()))
        finally:
            x.stop()
    for label, kib in rows:
        print(f"daimond idle PSS, {label}: {kib} KiB")


if __name__ == "__main__":
    main()
