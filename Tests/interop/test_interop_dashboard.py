"""The live dashboard in a real browser (issue 17): headless Debian chromium, driven by Selenium,
on a `flowd run` with the default model fed by `flowd simulate --publish`. The page loads
without a console error; the counts rise, the dot plot gets points, and the gallery shows a
decoded image of a cell of each class, each awaited with a bounded wait.

Set FLOWD_DASHBOARD_SCREENSHOT=PATH to keep a PNG of the page (README's docs/images/dashboard.png
was made so)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from flowd_harness import DEFAULT_MODEL, SMALL_TWIN, SMALL_TWIN_OPTICS, free_port, tcp
from monitoring_harness import scrape

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
CLASSES = ["healthy", "metastatic_cancer", "primary_cancer"]

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="Debian's chromium and chromium-driver are not installed (scripts/setup installs them)")


@pytest.fixture
def browser():
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,1400",
                     "--disable-gpu"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def total_cells(driver) -> int:
    """The `all` row of the counts table (read in one script: the page replaces rows live)."""
    return driver.execute_script("""
        const rows = document.querySelectorAll('#counts tbody tr');
        return rows.length ? Number(rows[rows.length - 1].cells[1].textContent.replaceAll(',', '')) || 0 : 0;""")


def decoded_classes(driver) -> set[str]:
    """The classes whose gallery row holds at least one decoded image."""
    return set(driver.execute_script("""
        return [...document.querySelectorAll('#gallery .row')]
            .filter(row => [...row.querySelectorAll('img')].some(img => img.complete && img.naturalWidth > 0))
            .map(row => row.dataset.label);"""))


def test_the_dashboard_shows_live_counts_dot_plot_and_a_gallery_of_each_class(flowd, flowd_bin, tmp_path, browser):
    from selenium.webdriver.support.ui import WebDriverWait

    port = free_port()
    d = flowd(inputs=["pull+bind:tcp://127.0.0.1:{port0}"], args=["--model", str(DEFAULT_MODEL)],
              settings={**SMALL_TWIN_OPTICS, "metrics.listen": f"127.0.0.1:{port}"})
    camera = subprocess.Popen(
        [flowd_bin, "simulate", *SMALL_TWIN, "--frames", "3000", "--publish", tcp(d.ports[0]), "--rate", "50",
         "--out", str(tmp_path / "camera")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert scrape(port, "/healthz")[0] == 200  # the port is up before the browser opens it
        browser.get(f"http://127.0.0.1:{port}/")
        wait = WebDriverWait(browser, 30, poll_frequency=0.2)
        wait.until(lambda _: browser.find_element("id", "connection").text == "live")
        wait.until(lambda _: total_cells(browser) > 0)
        first = total_cells(browser)
        wait.until(lambda _: total_cells(browser) > first)
        wait.until(lambda _: int(browser.find_element("id", "dotplot").get_attribute("data-points") or 0) > 0)
        wait.until(lambda _: set(CLASSES) <= decoded_classes(browser))
        assert "sha256" in browser.find_element("id", "run").text
        assert "p99" in browser.find_element("id", "latency").text

        if os.environ.get("FLOWD_DASHBOARD_SCREENSHOT"):  # with a fuller dot plot
            wait.until(lambda _: total_cells(browser) >= 150)
            browser.save_screenshot(os.environ["FLOWD_DASHBOARD_SCREENSHOT"])
        browser.find_element("id", "log").click()  # log axes redraw without an error
        browser.find_element("id", "pause").click()
        assert browser.find_element("id", "connection").text == "paused"
        errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == [], errors
    finally:
        camera.kill()
        camera.wait()

