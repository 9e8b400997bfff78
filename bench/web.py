#!/usr/bin/env python3
"""Dashboard figures in headless Chromium: time to a usable units page with N
running units, the time to apply a live change to that page, the first
load's compressed weight, the delay from a line written by a service to that
line shown in the logs page, and daimond's CPU while the units page is open
and idle.

Usage: bench/web.py [--units 1000] [--reps 10] [--bin target/release]
Build first: cargo build --release -p daimond -p daimon
Needs Debian's chromium and Playwright for Python (as tests/web_dashboard.rs).
"Usable": from the navigation's start to the first frame painted after the
table holds every unit (its count says so and the rows on screen are drawn;
performance.now() in that frame).
"""
import argparse, gzip, os, statistics, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api import Daemon, pct  # noqa: E402

from playwright.sync_api import sync_playwright  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

# Resolves in the frame after the one that is painted next: everything the
# script did before is laid out and drawn by then.
AFTER_PAINT = """() => new Promise((ok) => requestAnimationFrame(() =>
  setTimeout(() => ok(performance.now()), 0)))"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--bin", default="target/release")
    a = ap.parse_args()
    units = {f"bench-{i}.service": f"[Unit]\nDescription=bench unit {i}\n"
             "[Service]\nExecStart=/bin/sleep 3600\n" for i in range(a.units)}
    d = Daemon(f"{a.bin}/daimond", f"{a.bin}/daimon", units=units)
    try:
        d.cli("start", *[f"bench-{i}" for i in range(a.units)])
        url = d.cli("web", "--no-open").splitlines()[0]
        base = url.split("?")[0]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.set_default_timeout(30000)
            page.goto(url)  # trades the code for the session cookie
            page.wait_for_function("document.body.dataset.unitsLoaded === '1'")
            weight = sum(len(gzip.compress(page.context.request.get(base + path).body()))
                         for path in ["", "app.js", "app.css"])
            loads = []
            for _ in range(a.reps):
                page.reload()
                # Every unit counted and the first screen of rows in the page
                # (the table keeps only the rows on screen).
                page.wait_for_function(
                    f"document.querySelector('#count').textContent === '{a.units} of {a.units}'"
                    " && document.querySelector('#units-table tbody tr[data-unit]')")
                loads.append(page.evaluate(AFTER_PAINT))
            # A live change: one unit stops; the time from the state event's
            # arrival to its row showing it, painted.
            changes = []
            # Units whose rows are on the first screen (sorted by name).
            for i in [0, 1, 10, 100, 101][:a.reps]:
                name = f"bench-{i}.service"
                page.wait_for_selector(f'tr[data-unit="{name}"]')
                page.evaluate("""(n) => { window.__seen = null;
                  new MutationObserver(() => { const row = document.querySelector(`tr[data-unit="${n}"]`);
                    if (!window.__seen && row && row.textContent.includes('inactive'))
                    window.__seen = performance.now(); }).observe(document.querySelector('#units-table'),
                    { subtree: true, childList: true, characterData: true });
                  window.__event = null;
                  window.__es = new EventSource('api/events');
                  window.__es.addEventListener('state', () => { if (!window.__event) window.__event = performance.now(); });
                }""", name)
                page.wait_for_timeout(300)
                d.cli("stop", name)
                page.wait_for_function("window.__seen !== null")
                took = page.evaluate("""() => new Promise((ok) => requestAnimationFrame(() =>
                  setTimeout(() => { window.__es.close(); ok(performance.now() - window.__event); }, 0)))""")
                changes.append(took)
            # A line written, then shown: a service prints its own wall-clock
            # time (ns) in each line; the page notes its wall clock when the
            # line is added to the logs page, which follows every unit.
            page.goto(base + "#logs")
            page.wait_for_selector("#log-lines")
            page.evaluate("""() => { window.__shown = {};
              new MutationObserver((ms) => { for (const m of ms) for (const n of m.addedNodes) {
                const t = /mark=(\\d+)/.exec(n.textContent || ""); if (t) window.__shown[t[1]] = Date.now(); } })
              .observe(document.querySelector('#log-lines'), { childList: true, subtree: true }); }""")
            page.wait_for_timeout(500)
            for i in range(a.reps):
                before = page.evaluate("Object.keys(window.__shown).length")
                d.cli("run", "--name", f"mark-{i}", "--", "sh", "-c", "echo mark=$(date +%s%N)")
                page.wait_for_function(f"Object.keys(window.__shown).length > {before}")
            delays = [at - int(written) / 1e6
                      for written, at in page.evaluate("Object.entries(window.__shown)")]
            # Idle: the units page open, nothing changing.
            page.goto(base + "#units")
            page.wait_for_function(
                f"document.querySelector('#count').textContent.startsWith('{a.units} of')")
            page.wait_for_timeout(2000)
            t0, c0 = time.monotonic(), d.cpu_ticks()
            page.wait_for_timeout(10000)
            idle_cpu = (d.cpu_ticks() - c0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - t0)
            browser.close()
        print(f"units page with {a.units} running units, navigation start to the table usable "
              f"(every unit counted, the rows on screen painted): median {statistics.median(loads):.0f} ms, p95 {pct(loads, .95):.0f} ms, "
              f"max {max(loads):.0f} ms ({a.reps} loads)")
        print(f"a unit stopped, from the state event to its row painted (page refetch "
              f"included): median {statistics.median(changes):.0f} ms, max {max(changes):.0f} ms")
        print(f"a line written by a service to the line shown in the logs page: median "
              f"{statistics.median(delays):.0f} ms, max {max(delays):.0f} ms ({len(delays)} lines)")
        print(f"daimond's CPU with the units page open and idle for 10 s: {idle_cpu * 100:.2f} % of a core")
        print(f"first load, gzip-compressed (HTML, script, CSS): {weight / 1024:.1f} KiB")
    finally:
        d.stop()


if __name__ == "__main__":
    main()
