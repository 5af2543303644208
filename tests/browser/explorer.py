"""The explorer in headless Chromium (Debian's, driven by Playwright; no browser is downloaded).

Builds a warehouse from data/sample plus one call whose narrative is markup, starts `hotline
serve` on 127.0.0.1:0, and as an investigator: signs in, opens the top lead, expands a node, finds
the path between two calls, moves the timeline, opens a call card and a match explanation, saves
a review and sees it after a reload and in `hotline sql`, and opens the markup call, which must
show as text. A screenshot of each step is saved in the output folder.

Usage: explorer.py HOTLINE_BIN OUT_DIR
"""

import csv
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
MARKUP = "<script>alert(1)</script>"
XSS_CALL = "12345-20231231-999999"


def run(*args, **kwargs):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)


def build_warehouse(bin_, work):
    """The sample plus one call whose narrative and counterparty are markup."""
    extra = work / "markup.csv"
    with open(ROOT / "data/sample/calls.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        first = next(reader)
        fields = reader.fieldnames
    row = dict(first)
    row.update(call_id=XSS_CALL, received_at="2023-12-31T10:00:00+08:00", source_call_id="",
               narrative=f"来电人称{MARKUP}<img src=x onerror=alert(2)>商家拒绝退款。", counterparty=MARKUP)
    with open(extra, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerow(row)
    wh = work / "warehouse"
    run(bin_, "init", "--warehouse", str(wh))
    run(bin_, "ingest", str(ROOT / "data/sample/calls.csv"), str(ROOT / "data/sample/work_orders.csv"), "--warehouse", str(wh))
    run(bin_, "ingest", str(extra), "--warehouse", str(wh))
    run(bin_, "resolve", "--warehouse", str(wh))
    run(bin_, "link", "--warehouse", str(wh))
    run(bin_, "users", "add", "wang", "--role", "investigator", "--warehouse", str(wh), input="browser test password\n")
    return wh


def main():
    bin_, out = sys.argv[1], Path(sys.argv[2])
    shutil.rmtree(out, ignore_errors=True)
    shots = out / "screenshots"
    shots.mkdir(parents=True)
    wh = build_warehouse(bin_, out)
    server = subprocess.Popen([bin_, "serve", "--warehouse", str(wh), "--listen", "127.0.0.1:0"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = server.stdout.readline()
        base = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        drive(base, shots, bin_, wh)
    finally:
        server.kill()
        server.wait()
    steps = len(list(shots.glob("*.png")))
    print(f"explorer screenshots: {shots}")
    print(f"explorer: {steps} passed, 0 failed")


def nodes(page):
    return page.locator("#graph g.node")


def wait_for(condition, what, seconds=20):
    """Polls from Python: the page's policy forbids the string evaluation wait_for_function uses."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def drive(base, shots, bin_, wh):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("no chromium: install Debian's chromium (scripts/test.sh does)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        dialogs, errors = [], []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: errors.append(str(e)))
        # Chromium logs each 401 answer (the page asks /api/me before sign-in, and one wrong
        # password is tried on purpose); any other console error fails the test.
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 401" not in m.text else None)

        # Sign in (a wrong password first).
        page.goto(base + "/")
        page.fill("#user", "wang")
        page.fill("#password", "wrong password")
        page.click("#signin-form button")
        expect(page.locator("#signin-error")).to_contain_text("wrong")
        page.fill("#password", "browser test password")
        page.click("#signin-form button")
        expect(page.locator("#leads tbody tr").first).to_be_visible()
        expect(page.locator("#whoami")).to_contain_text("investigator")
        page.screenshot(path=shots / "1-signed-in.png")

        # The top lead's graph.
        page.locator("#leads tbody tr").first.click()
        expect(nodes(page).first).to_be_attached()
        drawn = nodes(page).count()
        assert drawn >= 3, drawn
        expect(page.locator("#card h2")).to_contain_text("Lead")
        page.screenshot(path=shots / "2-lead-graph.png")

        # Expand a call: the button shows its neighbour count, and the graph grows by the
        # neighbours not yet drawn (its place, calls linked to it).
        target = page.locator('#graph g.node[data-kind="call"]').first
        target.dispatch_event("click")
        expect(page.locator("#expand")).to_be_enabled()
        expect(page.locator("#expand")).to_contain_text("neighbours")
        page.click("#expand")
        wait_for(lambda: nodes(page).count() > drawn, "the expansion")
        expect(page.locator("#collapse")).to_be_enabled()
        page.screenshot(path=shots / "3-expanded.png")
        page.click("#collapse")
        wait_for(lambda: nodes(page).count() == drawn, "the collapse")

        # Two calls: the path between them, hop by hop with evidence, and the match explanation.
        calls = page.locator('#graph g.node[data-kind="call"]')
        first_call = calls.nth(0).get_attribute("data-id")
        calls.nth(0).dispatch_event("click")
        calls.nth(calls.count() - 1).dispatch_event("click", {"shiftKey": True})
        expect(page.locator("#path")).to_be_enabled()
        page.click("#path")
        expect(page.locator("#path-result li").first).to_be_visible()
        page.screenshot(path=shots / "4-path.png")
        expect(page.locator("#explain")).to_be_enabled()
        page.click("#explain")
        expect(page.locator("#waterfall tr").nth(1)).to_be_visible()
        expect(page.locator("#card h2")).to_contain_text("Match explanation")
        page.screenshot(path=shots / "5-explanation.png")

        # The timeline narrows what is drawn.
        before = nodes(page).count()
        page.eval_on_selector("#time-to", "e => { e.value = '0'; e.dispatchEvent(new Event('input')); }")
        wait_for(lambda: nodes(page).count() < before, "the timeline to hide calls")
        expect(page.locator("#time-range")).not_to_be_empty()
        page.screenshot(path=shots / "6-timeline.png")
        page.eval_on_selector("#time-to", "e => { e.value = '1000'; e.dispatchEvent(new Event('input')); }")

        # A call's card, with its restricted section for the investigator.
        page.locator(f'#graph g.node[data-id="{first_call}"]').dispatch_event("click")
        expect(page.locator("#card dl").first).to_be_visible()
        expect(page.locator("#card")).to_contain_text("received")
        expect(page.locator("#card .restricted")).to_be_visible()
        page.screenshot(path=shots / "7-call-card.png")

        # A review, kept across a reload and visible in SQL.
        lead_id = page.locator("#leads tbody tr").first.get_attribute("data-lead")
        page.select_option("#review-status", "confirmed")
        page.fill("#review-owner", "wang")
        page.fill("#review-note", "两起医美纠纷同一伙人")
        page.click("#review-form button")
        expect(page.locator("#review-saved")).to_have_text("Saved.")
        page.reload()
        expect(page.locator("#leads tbody tr").first).to_be_visible()
        page.locator(f'#leads tbody tr[data-lead="{lead_id}"]').click()
        expect(page.locator("#review-history li").first).to_contain_text("confirmed")
        expect(page.locator(f'#leads tbody tr[data-lead="{lead_id}"]')).to_contain_text("confirmed")
        page.screenshot(path=shots / "8-review.png")
        sql = run(bin_, "sql", "--warehouse", str(wh), "SELECT lead_id, status, owner, reviewed_by FROM lead_reviews")
        assert lead_id in sql.stdout and "confirmed" in sql.stdout and "wang" in sql.stdout, sql.stdout

        # Search by call id: the result opens the call's neighbourhood.
        page.fill("#search", first_call)
        page.click("#search-form button")
        page.locator("#search-results li").first.click()
        expect(page.locator("#graph-title")).to_contain_text("neighbours")
        expect(page.locator(f'#graph g.node[data-id="{first_call}"]')).to_be_attached()

        # The hotspot map: cells as polygons by emerging category, district labels, a cell's calls.
        page.fill("#map-category", "DISPUTE.*")
        page.click("#map-form button")
        expect(page.locator("#map path.cell").first).to_be_attached(timeout=60000)
        assert page.locator("#map text.district").count() >= 2
        hot = page.locator('#map path.cell[data-hot="true"]')
        cell = hot.first if hot.count() else page.locator("#map path.cell").first
        cell.dispatch_event("click")
        expect(page.locator("#cell-calls li").first).to_be_visible()
        page.locator("#map-panel").screenshot(path=shots / "9-map.png")
        page.locator("#cell-calls li").first.click()
        expect(page.locator("#card dl").first).to_be_visible()

        # Markup in a narrative is text: no dialog, no element made from it.
        page.goto(f"{base}/#call={XSS_CALL}")
        expect(page.locator("#card .narrative")).to_contain_text(MARKUP)
        assert page.locator("#card script, #card img").count() == 0
        page.screenshot(path=shots / "10-markup-as-text.png")
        assert not dialogs, dialogs
        assert not errors, errors
        browser.close()


if __name__ == "__main__":
    main()
