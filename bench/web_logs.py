#!/usr/bin/env python3
"""The dashboard's log page on a large store, in headless Chromium: a store
filled with N lines (10 million by default), then the time from pressing Apply
to the first lines shown, for the page's searches, and the page's size after.

Usage: bench/web_logs.py [--lines 10000000] [--reps 3] [--bin target/release]
Build first: cargo build --release -p daimond -p daimon
Needs Debian's chromium and Playwright for Python (as tests/web_dashboard.rs).
The store is filled by one service printing N lines; one line in 100,000
carries "needle", and each line a level word the searches pick from.
"""
import argparse, os, statistics, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api import Daemon  # noqa: E402

from playwright.sync_api import sync_playwright  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

FILLER = r"""import sys
n = int(sys.argv[1])
w = sys.stdout.write
words = ("GET /index.html 200", "POST /api/items 201", "GET /health 200", "worker tick")
for i in range(n):
    w(f"line {i} {words[i % 4]}{' needle' if i % 100000 == 99999 else ''} level{i % 7}\n")
w("filler done\n")
"""

# (what, the form's fields): the searches a person makes on the page.
SEARCHES = [
    ("the last lines of the unit", {"unit": "filler"}),
    ("a word in 1 line of 4", {"unit": "filler", "grep": "POST"}),
    ("a word in 1 line of 100,000 (all of the store searched)", {"unit": "filler", "grep": "needle"}),
    ("a regex, any unit", {"grep": "line 12345[0-9]{2} "}),
    ("the last 5 minutes", {"unit": "filler", "since": "-5min"}),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=10_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--bin", default="target/release")
    a = ap.parse_args()
    d = Daemon(f"{a.bin}/daimond", f"{a.bin}/daimon", units={})
    try:
        script = os.path.join(d.home, "filler.py")
        with open(script, "w") as f:
            f.write(FILLER)
        with open(f"{d.home}/units/filler.service", "w") as f:
            f.write(f"[Service]\nType=oneshot\nExecStart=/usr/bin/python3 {script} {a.lines}\n")
        d.cli("daemon-reload")
        t = time.time()
        d.cli("start", "filler")  # a oneshot: returns once the filler has exited
        while "filler done" not in d.cli("logs", "-u", "filler", "-n", "5", "-o", "cat"):
            if time.time() - t > 1800:
                raise SystemExit("the store did not take the lines within 30 minutes")
            time.sleep(0.5)
        fill = time.time() - t
        store = sum(os.path.getsize(os.path.join(r, f))
                    for r, _, fs in os.walk(f"{d.home}/state") for f in fs)
        print(f"store: {a.lines:,} lines written and stored in {fill:.0f} s, "
              f"{store / 2**20:.0f} MiB on disk")
        url = d.cli("web", "--no-open").splitlines()[0]
        base = url.split("?")[0]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.set_default_timeout(120000)
            page.goto(url)
            page.goto(base + "#logs")
            for what, fields in SEARCHES:
                took = []
                for _ in range(a.reps):
                    for name in ("unit", "grep", "since", "invocation"):
                        page.fill(f'#log-form [name="{name}"]', fields.get(name, ""))
                    page.evaluate("document.querySelector('#log-lines').textContent = ''")
                    t0 = page.evaluate("performance.now()")
                    page.click("#log-form button:not([type])")
                    page.wait_for_function("document.querySelector('#log-lines > div')")
                    took.append(page.evaluate("performance.now()") - t0)
                shown = page.locator("#log-lines > div").count()
                print(f"logs page, {what}: first lines shown after median "
                      f"{statistics.median(took):.0f} ms (max {max(took):.0f} ms), {shown} lines in the page")
            heap = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : 0")
            print(f"page's JS heap after the searches: {heap / 2**20:.1f} MiB")
            browser.close()
    finally:
        d.stop()


if __name__ == "__main__":
    main()
