"""The app in a real browser: `streamlit run` on a free port, driven by Playwright in
Debian's Chromium (never a downloaded browser).

One session does what a user does: starts a comparison and cancels it, sets up a small
one by typing into the sidebar, runs it, and checks that the KPI cards and a chart
appear. The screenshot it takes is the README's docs/app.png.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def require_chromium() -> None:
    """Chromium, installed with apt-get if need be; skip only where that is impossible
    (and never in CI, where a missing browser is a broken setup)."""
    if CHROMIUM.exists():
        return
    apt_usable = shutil.which("apt-get") is not None and os.geteuid() == 0
    if apt_usable:
        subprocess.run(["bash", str(ROOT / "scripts" / "ensure-chromium")], check=False)
        if CHROMIUM.exists():
            return
        pytest.fail("apt-get is usable but could not install chromium (see output above)")
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing in CI; `make test` installs it with apt-get")
    pytest.skip(f"{CHROMIUM} is missing and apt-get is not usable here (not root or no apt): "
                "cannot run the browser test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(proc: subprocess.Popen, port: int, log: Path, timeout: float = 90) -> None:
    url = f"http://127.0.0.1:{port}/_stcore/health"
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"streamlit exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200 and r.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"no health at {url} after {timeout:.0f}s:\n{log.read_text()}")


def set_number(page, label: str, value: int) -> None:  # noqa: ANN001 - playwright Page
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")  # Streamlit commits a number input on Enter (or blur)


def test_small_comparison_in_chromium(tmp_path: Path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    port = free_port()
    log = tmp_path / "streamlit.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_healthy(proc, port, log)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                         args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1500, "height": 1250})
                page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
                run = page.get_by_role("button", name="Run comparison")
                expect(run).to_be_enabled(timeout=60_000)

                # a full-size comparison shows real progress and stops on Cancel
                run.click()
                bar = page.get_by_test_id("stProgress")
                expect(bar).to_be_visible(timeout=60_000)
                expect(page.get_by_text("run 1 of 2")).to_be_visible(timeout=60_000)
                page.get_by_role("button", name="Cancel run").click()
                expect(page.get_by_text("Run cancelled")).to_be_visible(timeout=60_000)
                expect(page.get_by_test_id("stMetric")).to_have_count(0)

                # a small one: 3,000 accounts, 60 + 60 + 30 days, typed into the sidebar
                for label, value in (("Accounts", 3000), ("Warm-up days", 60),
                                     ("Window days", 60), ("Follow-up days", 30)):
                    set_number(page, label, value)
                expect(page.get_by_text("3,000 accounts, 150 days")).to_be_visible(
                    timeout=30_000)
                expect(run).to_be_enabled(timeout=30_000)
                run.click()

                cards = page.get_by_test_id("stMetric")
                expect(cards).to_have_count(12, timeout=120_000)  # 2 strategies x 6 KPIs
                expect(cards.first).to_contain_text("Cure rate within 30 days")
                expect(page.get_by_text("wins on").first).to_be_visible()
                chart = page.get_by_test_id("stImage").locator("img").first
                expect(chart).to_be_visible(timeout=60_000)
                page.wait_for_function("img => img.complete && img.naturalWidth > 100",
                                       arg=chart.element_handle(), timeout=30_000)
                expect(page.get_by_test_id("stException")).to_have_count(0)
                # idle again: Run is back, Cancel and the bar are gone, nothing is running
                expect(run).to_be_enabled(timeout=60_000)
                expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)
                expect(bar).to_have_count(0)
                expect(page.get_by_role("button", name="Stop")).to_have_count(0,
                                                                               timeout=60_000)

                # tall enough for the cards and the trade-off chart in one picture
                page.set_viewport_size({"width": 1500, "height": 1900})
                page.wait_for_timeout(500)
                artifacts = ROOT / "tests" / "artifacts"
                artifacts.mkdir(exist_ok=True)
                shot = tmp_path / "app.png"
                page.screenshot(path=str(shot))
                assert shot.stat().st_size > 20_000
                for dest in (artifacts / "app.png", ROOT / "docs" / "app.png"):
                    shutil.copyfile(shot, dest)
            finally:
                browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
