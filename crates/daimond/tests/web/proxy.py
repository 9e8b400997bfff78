"""The dashboard through nginx under a path prefix, in headless Chromium.

Usage: proxy.py LOGIN_URL SCREENSHOT_DIR
Run by tests/web_proxy.rs: LOGIN_URL is `daimon web`'s link with its
http://127.0.0.1:PORT/ replaced by nginx's http://127.0.0.1:PROXY/daimon/.
Exits non-zero with a one-line reason on the first failure.
"""
import os
import sys
import urllib.error
import urllib.request

from playwright.sync_api import expect, sync_playwright

URL, SHOTS = sys.argv[1], sys.argv[2]
BASE = URL.split("?")[0]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
os.makedirs(SHOTS, exist_ok=True)


def status(path, method="GET", headers=None):
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

    # The login's redirect keeps the prefix; the code leaves the address bar.
    page.goto(URL)
    assert page.url.startswith(BASE) and "code=" not in page.url, f"landed on {page.url}"
    row = page.locator('tr[data-unit="steady.service"]')
    expect(row).to_be_visible()
    expect(page.locator("#live.on")).to_be_visible()  # the event stream, through nginx

    # A change through the proxy: stop (confirmed) and start.
    page.on("dialog", lambda d: d.accept())
    row.locator("a").click()
    expect(page.locator("#unit-file")).to_contain_text("ExecStart=")
    page.click('button[data-verb="stop"]')
    expect(page.locator("#unit-detail")).to_contain_text("inactive")
    expect(page.locator("#unit-error")).to_have_text("")
    page.click('button[data-verb="start"]')
    expect(page.locator("#unit-detail")).to_contain_text("active (running)")

    # Logs follow live through the proxy (no buffering of the stream).
    page.click("#unit-logs")
    lines = page.locator("#log-lines > div")
    expect(lines.first).to_contain_text("steady")
    n = lines.count()
    page.goto(BASE + "#unit/steady.service")
    page.click('button[data-verb="restart"]')
    page.click("#unit-logs")
    expect(lines.nth(n)).to_contain_text("steady", timeout=10000)
    page.screenshot(path=f"{SHOTS}/proxied-logs.png", full_page=True)

    # The proxy vouches only for its own origin: another page's is still refused.
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
    evil = {"Cookie": cookie, "Origin": "http://evil.example"}
    got = status("api/units/steady.service/stop", "POST", evil)
    assert got == 403, f"a foreign Origin through the proxy got {got}"
    assert status("api/units") == 401, "a request without the cookie was served"
    browser.close()
print("proxied dashboard ok")
