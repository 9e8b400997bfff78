"""Drives the dashboard in Debian's headless Chromium through Playwright.

Usage: dashboard.py LOGIN_URL SCREENSHOT_DIR
Run by tests/web_dashboard.rs, which starts daimond with crashy.service (exits
every second, Restart=always) and ticker.timer, and prints LOGIN_URL from
`daimon web`. Exits non-zero with a one-line reason on the first failure.
"""
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

from playwright.sync_api import expect, sync_playwright

URL, SHOTS = sys.argv[1], sys.argv[2]
BASE = URL.split("?")[0]
os.makedirs(SHOTS, exist_ok=True)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def status(path, method="GET", headers=None):
    """HTTP status of a request made outside the browser."""
    req = urllib.request.Request(BASE + path, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.set_default_timeout(15000)
    expect.set_options(timeout=15000)

    # Log in through the printed URL: the code leaves the address bar.
    page.goto(URL)
    assert "code=" not in page.url, f"the code stayed in the address bar: {page.url}"
    row = page.locator('tr[data-unit="crashy.service"]')
    expect(row).to_be_visible()
    page.screenshot(path=f"{SHOTS}/units.png", full_page=True)

    # Filter by text and by state; sort by a column with the keyboard.
    page.fill("#filter", "ticker")
    expect(page.locator("#units-table tbody tr[data-unit]")).to_have_count(2)
    page.select_option("#state", "active")
    expect(page.locator("#units-table tbody tr[data-unit]")).to_have_count(1)
    page.fill("#filter", "")
    page.select_option("#state", "")
    name_th = page.locator('#units-table th[data-k="name"]')
    name_th.focus()
    page.keyboard.press("Enter")  # already sorted by name: now descending
    expect(name_th).to_have_class("desc")
    expect(page.locator("#units-table tbody tr[data-unit]").first).to_have_attribute("data-unit", "ticker.timer")

    # A crashing service restarts live: its restart count changes without a reload.
    first = int(row.locator("td.restarts").inner_text())
    expect(row.locator("td.restarts")).not_to_have_text(str(first))

    # Stop (confirmed) and start it with the buttons.
    page.on("dialog", lambda d: d.accept())
    row.locator("a").click()
    expect(page.locator("#unit-name")).to_have_text("crashy.service")
    expect(page.locator("#unit-file")).to_contain_text("Restart=always")
    # Its restart history: the run before the current one ended with its exit code.
    expect(page.locator("#unit-runs tbody tr").nth(1)).to_contain_text("exit-code")
    expect(page.locator("#unit-runs tbody tr").nth(1)).to_contain_text("status=3")
    # A stop that lands between a crash and its restart keeps the crash's
    # result: failed rather than inactive; either way it no longer runs.
    page.click('button[data-verb="stop"]')
    expect(page.locator("#unit-detail")).to_contain_text(re.compile(r"inactive|failed \(failed\)"))
    expect(page.locator("#unit-error")).to_have_text("")
    page.click('button[data-verb="start"]')
    expect(page.locator("#unit-detail")).to_contain_text("activ")
    expect(page.locator("#unit-detail")).not_to_contain_text("inactive")
    page.screenshot(path=f"{SHOTS}/unit.png", full_page=True)
    # The daemon's own error message is shown.
    page.goto(BASE + "#unit/ghost.service")
    page.click('button[data-verb="start"]')
    expect(page.locator("#unit-error")).to_contain_text("ghost")

    # Logs: filter to one unit and a pattern, then see a new line arrive.
    page.click("#nav-logs")
    page.fill('#log-form [name="unit"]', "crashy.service")
    page.fill('#log-form [name="grep"]', "crashy up")
    page.click("#log-form button:not([type])")
    lines = page.locator("#log-lines > div")
    expect(lines.first).to_contain_text("crashy up")
    n = lines.count()
    expect(lines.nth(n)).to_contain_text("crashy up", timeout=10000)
    texts = lines.all_inner_texts()
    assert all("crashy up" in t for t in texts), f"the filter let through: {texts}"
    page.screenshot(path=f"{SHOTS}/logs.png", full_page=True)
    # Pause holds new lines instead of dropping them; resume shows them.
    page.click("#pause")
    shown = lines.count()
    expect(page.locator("#log-note")).to_contain_text("new lines held", timeout=10000)
    assert lines.count() == shown, "lines were added while paused"
    page.click("#pause")
    expect(lines.nth(shown)).to_contain_text("crashy up")
    # A line's unit links to the unit's page, whose Logs link leads back.
    expect(lines.first.locator("a")).to_have_text("crashy.service")
    lines.first.locator("a").click()
    expect(page.locator("#unit-name")).to_have_text("crashy.service")
    page.click("#unit-logs")
    expect(page.locator('#log-form [name="unit"]')).to_have_value("crashy.service")

    # A timer's next run.
    page.click("#nav-timers")
    nxt = page.locator('tr[data-unit="ticker.timer"] td.next')
    expect(nxt).not_to_have_text("")
    page.screenshot(path=f"{SHOTS}/timers.png", full_page=True)
    expect(page.locator('#timers-table tr[data-unit="ticker.timer"]')).to_contain_text("ticker.service")

    # Run: the daemon's check shown inline, then a service started from the form.
    page.click("#nav-run")
    page.fill('#run-form [name="cmd"]', "echo hello from the form; sleep 100")
    page.fill('#run-form [name="name"]', "formrun")
    page.fill('#run-form [name="schedule"]', "not a schedule")
    page.click("#run-form button")
    expect(page.locator("#run-result.error")).not_to_have_text("")
    page.screenshot(path=f"{SHOTS}/run.png", full_page=True)
    page.fill('#run-form [name="schedule"]', "")
    page.click("#run-form button")
    expect(page.locator("#unit-name")).to_have_text("formrun.service")
    expect(page.locator("#unit-detail")).to_contain_text("active (running)")

    # A phone-width screen: the table keeps its essential columns.
    page.set_viewport_size({"width": 380, "height": 740})
    page.click("#nav-units")
    expect(page.locator('tr[data-unit="formrun.service"]')).to_be_visible()
    page.screenshot(path=f"{SHOTS}/units-narrow.png", full_page=True)

    # Refusals: no cookie, a cookie from a foreign origin, a change without Origin.
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
    assert cookie, "no session cookie was set"
    assert status("api/units") == 401, "a request without the cookie was served"
    assert status("api/units", headers={"Cookie": cookie}) == 200
    evil = {"Cookie": cookie, "Origin": "http://evil.example"}
    assert status("api/units", headers=evil) == 403, "a foreign Origin was served"
    got = status("api/units/crashy.service/stop", "POST", {"Cookie": cookie})
    assert got == 403, f"a cookie POST without Origin got {got}"
    # The code was single use.
    fresh = browser.new_page()
    resp = fresh.goto(URL)
    assert resp.status == 403, f"a used login code gave {resp.status}"
    browser.close()
print("dashboard ok")
