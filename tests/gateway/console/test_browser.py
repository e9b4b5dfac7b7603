"""The console clicked through in a real browser: Debian's headless Chromium, driven by
Selenium through Debian's chromedriver, against the running service on loopback.

Log in with the keyboard → upload three files (a macro workbook, a program, a Japanese-named
PDF with JavaScript) and watch each one's progress bar and its state change live to its result
in plain Japanese → log in on the LGWAN side, see them newest first, download the disarmed
workbook → another uploader sees none of it, not even by its address → hostile names are shown
as text, never run → the English switch → /docs draws Swagger UI from the package. No page may
break its Content-Security-Policy. Screenshots go to $CONSOLE_SCREENSHOTS (or the test's temp dir).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from converters.names import safe_component
from tests.gateway.console.conftest import PASSWORD, Gateway

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    pytest.skip("Debian's chromium and chromium-driver are not installed (scripts/setup.sh installs them)",
                allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service as DriverService  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

HOSTILE = "<img src=x onerror=alert(1)><b>太字&amp;.txt"  # (a file name cannot hold "/")
# every data-state change of an upload row, and every upload progress event, as the page made them
RECORDER = """
window.__states = {}; window.__progress = [];
new MutationObserver(function (changes) {
  changes.forEach(function (change) {
    var item = change.target, name = item.querySelector('.name').textContent;
    (window.__states[name] = window.__states[name] || []).push(item.getAttribute('data-state'));
  });
}).observe(document.getElementById('list'), {subtree: true, attributes: true, attributeFilter: ['data-state']});
var send = XMLHttpRequest.prototype.send;
XMLHttpRequest.prototype.send = function (body) {
  this.upload.addEventListener('progress', function (e) { window.__progress.push([e.loaded, e.total]); });
  return send.call(this, body);
};
"""

DROP = """
var file = new File([arguments[1]], arguments[0], {type: 'text/plain'});
var carried = new DataTransfer();
carried.items.add(file);
var zone = document.getElementById('drop');
zone.dispatchEvent(new DragEvent('dragenter', {bubbles: true, cancelable: true, dataTransfer: carried}));
zone.dispatchEvent(new DragEvent('drop', {bubbles: true, cancelable: true, dataTransfer: carried}));
"""


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-extensions", "--window-size=1200,1500", "--lang=ja",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=DriverService(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.downloads = downloads
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(check: Callable[[], Any], seconds: float = 30, what: str = "") -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not seen within {seconds} s: {what}")


def policy_violations(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser")
            if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]]


def log_in(driver: Any, base: str, name: str) -> None:
    """By keyboard only: the name field has the focus, Tab to the password, Enter sends."""
    driver.get(f"{base}/console/login")
    # autofocus is applied when the browser next draws the page, a moment after the load
    focused = wait_for(lambda: driver.switch_to.active_element.get_attribute("id") == "name"
                       and driver.switch_to.active_element, 5, "the focus in the name field")
    focused.send_keys(name, Keys.TAB)
    driver.switch_to.active_element.send_keys(PASSWORD, Keys.ENTER)
    wait_for(lambda: "/console/login" not in driver.current_url, what=f"{name} logged in")


def log_out(driver: Any) -> None:
    driver.find_element(By.CSS_SELECTOR, "form[action='/console/logout'] button").click()
    wait_for(lambda: driver.current_url.endswith("/console/login"), what="logged out")


def test_upload_watch_receive_and_stay_apart_in_a_real_browser(gateway: Gateway, browser: Any, samples: Path,
                                                               tmp_path: Path) -> None:
    started = time.monotonic()
    shots = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    files = tmp_path / "files"
    files.mkdir()
    chosen = {"見積書_マクロ付き.xlsm": "xlsm-macro.xlsm", "setup.exe": "exe-stub.exe",
              "請求書（2026年11月分）.pdf": "pdf-javascript.pdf"}
    for name, sample in chosen.items():
        shutil.copy(samples / sample, files / name)
    (files / HOSTILE).write_text("just text\n", encoding="utf-8")

    # internet side: log in, then upload three files at once, slowly enough to see the progress bars move
    browser.get(f"{gateway.internet}/console/upload")
    assert browser.current_url.endswith("/console/login")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ja"
    browser.save_screenshot(str(shots / "01-login.png"))
    log_in(browser, gateway.internet, "staff-a")
    assert browser.find_element(By.TAG_NAME, "h1").text == "アップロード"
    browser.execute_script(RECORDER)
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 24 * 1024})
    browser.find_element(By.ID, "files").send_keys("\n".join(str(files / name) for name in chosen))
    rows = wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#list > li")) == 3
                    and browser.find_elements(By.CSS_SELECTOR, "#list > li"), what="three upload rows")
    assert [row.find_element(By.CLASS_NAME, "name").text for row in rows] == list(chosen)
    assert all(row.find_element(By.TAG_NAME, "progress") for row in rows)
    final = ("sanitized", "passed", "blocked", "failed")
    wait_for(lambda: all(row.get_attribute("data-state") in final for row in rows), 45, "three results")
    browser.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    browser.save_screenshot(str(shots / "02-upload-results.png"))
    states = browser.execute_script("return window.__states")
    progress = browser.execute_script("return window.__progress")
    assert any(0 < loaded < total for loaded, total in progress), progress  # a bar that moved
    assert [int(row.find_element(By.TAG_NAME, "progress").get_attribute("value")) for row in rows] == [100] * 3
    stages = ["processing", "scanning", "disarming"]  # the worker's stages, in their order (a quick one is not seen)
    for name in chosen:  # uploading, then received, then scanning and disarming as far as seen, then done
        assert states[name][:2] == ["uploading", "queued"] and states[name][-1] in final, states
        seen = [state for state in states[name][2:-1] if state != "queued"]
        assert all(state in stages for state in seen), states
        assert [stages.index(state) for state in seen] == sorted(stages.index(state) for state in seen), states
    macro, program, pdf = rows
    assert macro.get_attribute("data-state") == "sanitized"
    assert "マクロ（VBA）を取り除きました。" in macro.text and "LGWAN 接続系の「受け取り」画面" in macro.text
    assert program.get_attribute("data-state") == "blocked" and "遮断" in program.text
    assert "プログラム（実行ファイル）のため、LGWAN へ持ち込めません。" in program.text
    assert "参照番号: GW-" in program.text and "管理者" in program.text
    assert pdf.get_attribute("data-state") == "sanitized" and "PDF の JavaScript を取り除きました。" in pdf.text

    # dropped on the drop zone (a drop event carrying a file, as the browser makes one for a real drag)
    browser.execute_script(DROP, "メモ（ドロップ）.txt", "ドラッグ＆ドロップで送ったテキスト\n")
    dropped = wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#list > li")) == 4
                       and browser.find_elements(By.CSS_SELECTOR, "#list > li")[3], what="the dropped file's row")
    assert dropped.find_element(By.CLASS_NAME, "name").text == "メモ（ドロップ）.txt"
    wait_for(lambda: dropped.get_attribute("data-state") in final, 30, "the dropped file's result")
    assert dropped.get_attribute("data-state") == "passed" and "危険な要素は見つかりませんでした" in dropped.text

    # a hostile name: shown as the text it is (the page never parses names as HTML), nothing runs
    browser.find_element(By.ID, "files").send_keys(str(files / HOSTILE))
    hostile = wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#list > li")) == 5
                       and browser.find_elements(By.CSS_SELECTOR, "#list > li")[4], what="the fifth row")
    assert hostile.find_element(By.CLASS_NAME, "name").text == HOSTILE
    assert not hostile.find_elements(By.TAG_NAME, "img") and not hostile.find_elements(By.TAG_NAME, "b")
    wait_for(lambda: hostile.get_attribute("data-state") in final, 30, "the hostile name's result")
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 (asking is the check)
    ids = [row.get_attribute("data-id") for row in browser.find_elements(By.CSS_SELECTOR, "#list > li")]

    # over the size limit: said at once, nothing sent
    with (files / "大きすぎる.bin").open("wb") as big:
        big.truncate(gateway.service.serve.max_upload_bytes + 1)
    browser.find_element(By.ID, "files").send_keys(str(files / "大きすぎる.bin"))
    too_big = wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#list > li")) == 6
                       and browser.find_elements(By.CSS_SELECTOR, "#list > li")[5], what="the sixth row")
    assert too_big.get_attribute("data-state") == "error" and "ファイルが大きすぎます" in too_big.text
    assert not too_big.get_attribute("data-id")

    # LGWAN side: newest first, the same plain words, the disarmed workbook downloaded
    log_in(browser, gateway.lgwan, "staff-a")
    assert browser.current_url.endswith("/console/receive")
    assert browser.find_element(By.TAG_NAME, "h1").text == "受け取り"
    shown = [item.get_attribute("data-id") for item in browser.find_elements(By.CSS_SELECTOR, "li.transfer")]
    assert shown[:5] == [ids[4], ids[3], *sorted(ids[:3], reverse=True)]  # newest first (the three: by arrival)
    page = browser.find_element(By.TAG_NAME, "main").text
    assert safe_component(HOSTILE) in page  # the name the gateway gave it, as text
    assert "プログラム（実行ファイル）のため" in page and "マクロ（VBA）を取り除きました。" in page
    browser.save_screenshot(str(shots / "03-receive.png"))
    link = browser.find_element(By.CSS_SELECTOR, f"li.transfer[data-id='{ids[0]}'] a.download")
    assert link.text == "ダウンロード: 見積書_マクロ付き.xlsx"
    link.click()
    saved = wait_for(lambda: [p for p in browser.downloads.iterdir() if p.suffix == ".xlsx"], 20, "the download")
    assert saved[0].name == "見積書_マクロ付き.xlsx"
    assert not [n for n in zipfile.ZipFile(saved[0]).namelist() if "vba" in n.lower()]

    # a name the worker wrote as it came (no safe-naming rule touched it) is shown as text too
    planted = "18ed00000000000000000000000000cd"
    folder = gateway.data / "results" / planted
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps({"user": "staff-a"}))
    (folder / "result.json").write_text(json.dumps({"files": [
        {"input": "<img src=x onerror=alert(2)><script>alert(3)</script>", "sha256": "cd" * 32,
         "outcome": "blocked", "reason_code": "executable", "outputs": [], "findings": []}]}))
    browser.refresh()
    assert "<img src=x onerror=alert(2)><script>alert(3)</script>" in browser.find_element(By.TAG_NAME, "main").text
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018

    # another uploader: nothing of staff-a's, not even by typing the address
    log_out(browser)
    log_in(browser, gateway.lgwan, "staff-b")
    assert not browser.find_elements(By.CSS_SELECTOR, "li.transfer")
    browser.get(f"{gateway.lgwan}/console/transfers/{ids[0]}/files/0")
    assert browser.find_element(By.TAG_NAME, "h1").text == "見つかりません。"
    browser.get(f"{gateway.lgwan}/console/api/transfers/{ids[0]}")
    assert "no such transfer" in browser.page_source

    # English, remembered on the next page
    browser.get(f"{gateway.lgwan}/console/receive")
    browser.find_element(By.CSS_SELECTOR, "a.language").click()
    wait_for(lambda: browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en", what="English")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Receive"
    browser.get(f"{gateway.lgwan}/console/receive")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Receive"
    assert policy_violations(browser) == []

    # /docs: Swagger UI from the package, under the same policy, and the upload can carry a file
    browser.get(f"{gateway.internet}/docs")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".swagger-ui .info .title"), 20, "Swagger UI")
    browser.find_element(By.CSS_SELECTOR, "#operations-default-upload_api_v1_transfers_post button").click()
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".opblock-body .parameters-col_description, "
                                           ".opblock-section-request-body"), 10, "the request body")
    assert "multipart/form-data" in browser.find_element(By.CSS_SELECTOR, ".opblock-body").text
    browser.find_element(By.CSS_SELECTOR, ".opblock-body button.try-out__btn").click()
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".opblock-body input[type=file]"), 10, "a file field")
    browser.save_screenshot(str(shots / "04-docs.png"))
    assert policy_violations(browser) == []
    assert time.monotonic() - started < 60
