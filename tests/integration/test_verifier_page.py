"""The verifier's web page (GET /) in a real headless browser (Debian chromium + chromedriver, driven by Selenium)
against a real service (uvicorn in a thread, a worker process), with real files: a signed render, a tampered copy,
a re-encoded copy without its manifest, a plain unsigned video.

``DIRFA_SCREENSHOTS=1`` also writes the screenshots of ``docs/`` (verifier-page-{verified,tampered,unsigned}.png).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests import _system

pytestmark = [pytest.mark.system("chromium")]

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCREENSHOTS = os.environ.get("DIRFA_SCREENSHOTS") == "1"
WIDTH, HEIGHT = 1200, 1400
UPLOAD_LIMIT = 5_000_000
HOSTILE = '<img src=x onerror="window.__pwned=1">'


# --- the service, the browser ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service():
    from provenance.signing import dev_identity
    from tests._service import serve
    from verifier.service import ServiceConfig, UploadLimits

    config = ServiceConfig(trust_pem=dev_identity().root_pem, workers=1, upload=UploadLimits(max_bytes=UPLOAD_LIMIT))
    with serve(config) as running:
        yield SimpleNamespace(url=running.url, state=running.app.state)  # state: the ServiceState


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _system.CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console messages, CSP violations included
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={WIDTH},{HEIGHT}", "--hide-scrollbars", "--force-device-scale-factor=1"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(_system.CHROMEDRIVER))  # no Selenium Manager
    driver.set_window_size(WIDTH, HEIGHT)
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, service):
    browser.get(service.url + "/")
    _wait(browser, lambda d: d.execute_script("return document.body.dataset.ready") == "true")
    return browser


def _wait(driver, condition, timeout=90):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def _answered(driver) -> None:
    """Wait until the page shows a result or an error."""
    _wait(driver, lambda d: any(d.find_element("id", i).is_displayed() for i in ("result", "error")))


def _text(driver, element_id: str) -> str:
    return driver.find_element("id", element_id).text


def upload(driver, path: Path, mode: str = "full") -> str:
    """Choose ``path`` with the page's file input, wait for a verdict or an error; the verdict ('' if none)."""
    driver.find_element("id", f"mode-{mode}").click()
    driver.find_element("id", "file").send_keys(str(path))
    _answered(driver)
    return driver.find_element("id", "verdict").get_attribute("data-verdict") or ""


def segments(driver) -> list[dict]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#timeline > li')].map(s => ({found: s.dataset.found,"
        " synthetic: s.dataset.synthetic === 'true', start: +s.dataset.start, end: +s.dataset.end,"
        " width: s.getBoundingClientRect().width}))"
    )


def screenshot(driver, name: str) -> None:
    if not SCREENSHOTS:
        return
    driver.execute_script("window.scrollTo(0, 0)")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(WIDTH, max(HEIGHT, height))
    try:
        assert driver.save_screenshot(str(DOCS / f"verifier-page-{name}.png"))
    finally:
        driver.set_window_size(WIDTH, HEIGHT)


def _raw(driver) -> dict:
    return json.loads(driver.execute_script("return document.getElementById('raw-json').textContent"))


# --- files -----------------------------------------------------------------------------------------------------


def _reencode(src: Path, dst: Path) -> Path:
    """The video re-encoded frame by frame (what a platform's transcode does): no manifest left, watermark kept."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream("libx264", rate=vin.average_rate)
        vout.width, vout.height, vout.pix_fmt = vin.width, vin.height, "yuv420p"
        vout.options = {"preset": "veryfast", "crf": "23"}
        for frame in inp.decode(vin):
            out.mux(vout.encode(frame))
        out.mux(vout.encode())
    return dst


def _plain_video(dst: Path, seconds: int = 1, fps: int = 25) -> Path:
    """An unsigned, unwatermarked MP4: moving colour gradients drawn with numpy."""
    import av
    import numpy as np

    yy, xx = np.mgrid[0:128, 0:128]
    with av.open(str(dst), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width = stream.height = 128
        stream.pix_fmt = "yuv420p"
        for i in range(seconds * fps):
            rgb = np.stack([(xx + 3 * i) % 256, (yy + 2 * i) % 256, np.full_like(xx, 128)], axis=-1).astype(np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode())
    return dst


@pytest.fixture(scope="module")
def reencoded(signed_video, tmp_path_factory) -> Path:
    return _reencode(signed_video, tmp_path_factory.mktemp("page") / "talking-reencoded.mp4")


# --- the page itself -------------------------------------------------------------------------------------------


def test_the_page_loads_only_its_own_assets_and_is_keyboard_usable(page, service):
    from selenium.webdriver.common.keys import Keys

    page.get_log("browser")  # drop what earlier pages logged
    page.refresh()
    _wait(page, lambda d: d.execute_script("return document.body.dataset.ready") == "true")
    assert [m for m in page.get_log("browser") if m["level"] in ("SEVERE", "WARNING")] == []  # no CSP violation
    resources = page.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert {r.split("?")[0] for r in resources} >= {service.url + "/static/app.js", service.url + "/static/app.css"}
    assert all(r.startswith(service.url + "/") for r in resources), resources
    assert page.execute_script("return location.href") == service.url + "/"
    csp = page.find_element("css selector", 'meta[http-equiv="Content-Security-Policy"]').get_attribute("content")
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    # every control has a label; the file picker is the first thing Tab reaches
    unlabelled = page.execute_script(
        "return [...document.querySelectorAll('input, button')].filter(e => !e.labels?.length && !e.textContent.trim())"
        ".map(e => e.id)"
    )
    assert unlabelled == []
    page.find_element("tag name", "body").send_keys(Keys.TAB)
    assert page.execute_script("return document.activeElement.id") == "file"
    assert page.find_element("id", "dropzone").text.startswith("Drop a video here")
    assert not page.find_element("id", "result").is_displayed()


def test_a_signed_render_reads_verified(page, signed_video):
    assert upload(page, signed_video) == "verified"
    assert _text(page, "verdict") == "Verified"
    assert "trusts" in _text(page, "verdict-text")
    assert _text(page, "source") == signed_video.name
    assert "dirfa development identity" in _text(page, "signer")
    assert _text(page, "signer-trust") == "trusted"
    assert page.find_element("id", "ai-generated").get_attribute("data-value") == "yes"
    assert _text(page, "ai-generated") == "Yes"
    segs = segments(page)
    assert segs and all(s["found"] == "true" for s in segs) and sum(s["width"] for s in segs) > 500
    report = _raw(page)["report"]
    content_id = report["watermark"]["content_id"]
    assert content_id in _text(page, "watermark-summary") and content_id in _text(page, "timeline")
    actions = [a.get_attribute("data-action") for a in page.find_elements("css selector", "#actions li")]
    assert actions == report["c2pa"]["actions"] and "c2pa.created" in actions
    ingredients = _text(page, "ingredients")
    assert "portrait.jpg" in ingredients and ".wav" in ingredients
    assert "Not needed" in _text(page, "recovery")
    assert not page.find_element("id", "error").is_displayed()
    assert not page.find_element("id", "raw-json").is_displayed()  # collapsed until asked for
    screenshot(page, "verified")


def test_a_tampered_copy_reads_tampered(page, signed_video, tmp_path):
    from tests.tamper.generate import flip_mdat

    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(flip_mdat(signed_video.read_bytes()))
    assert upload(page, tampered) == "tampered"
    assert _text(page, "verdict") == "Tampered"
    assert "INVALID" in _text(page, "manifest-status")
    assert "changed after signing" in _text(page, "manifest-status")
    assert _text(page, "signer-trust") == "unverified" and "not established" in _text(page, "signer-note")
    assert segments(page)
    assert _raw(page)["report"]["c2pa"]["status"] == "invalid"
    screenshot(page, "tampered")


def test_a_reencoded_copy_without_its_manifest_reads_watermark_only(page, reencoded):
    assert upload(page, reencoded) == "watermark_only"
    assert _text(page, "verdict") == "Watermark only"
    assert page.find_element("id", "ai-generated").get_attribute("data-value") == "yes"
    assert "not signed" in _text(page, "signer")
    segs = segments(page)
    assert segs and all(s["found"] == "true" for s in segs)
    assert "no manifest store" in _text(page, "recovery")
    assert "no C2PA manifest" in _text(page, "manifest-status")
    assert _raw(page)["report"]["mode"] == "full" and "full mode" in _text(page, "media")
    screenshot(page, "unsigned")


def test_a_plain_unsigned_video_reads_no_provenance_and_its_hostile_name_stays_text(page, tmp_path):
    plain = _plain_video(tmp_path / f"{HOSTILE}.mp4")
    assert upload(page, plain, mode="fast") == "no_provenance"
    assert _text(page, "verdict") == "No provenance"
    assert page.find_element("id", "ai-generated").get_attribute("data-value") == "unknown"
    # fast mode reports no segment on an unmarked video: the page draws the whole video as one unmarked span
    width = page.find_element("id", "timeline").rect["width"]
    unmarked = {"found": "false", "synthetic": True, "start": 0, "end": 1, "width": pytest.approx(width, abs=2)}
    assert segments(page) == [unmarked]
    assert "Not found" in _text(page, "watermark-summary")
    assert _raw(page)["report"]["mode"] == "fast" and _raw(page)["report"]["watermark"]["segments"] == []
    # the file name is the uploader's: it comes back in the report (X-Filename) and must stay text
    assert page.execute_script("return document.getElementById('source').textContent") == plain.name
    assert page.execute_script("return document.querySelectorAll('#result img').length") == 0
    assert page.execute_script("return window.__pwned") is None


def test_a_dropped_file_is_verified_and_an_unreadable_one_lists_its_errors(page):
    """Drag and drop, as the browser delivers it (a drop event carrying a File), of bytes that are no video."""
    page.execute_script(
        "const dt = new DataTransfer();"
        "dt.items.add(new File([new Uint8Array(4096).fill(7)], 'dropped.mp4', {type: 'video/mp4'}));"
        "document.getElementById('dropzone').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true}));"
    )
    _answered(page)
    assert page.find_element("id", "verdict").get_attribute("data-verdict") == "unreadable"
    assert _text(page, "source") == "dropped.mp4" and _text(page, "verdict") == "Unreadable"
    assert page.find_element("id", "errors").find_elements("tag name", "li")
    assert _raw(page)["report"]["errors"]


def test_a_recovered_report_shows_the_manifest_fetched_by_the_watermark(page, reencoded):
    """RECOVERED needs a store; the service here has none, so the real report is verified in-process and shown."""
    from provenance.signing import dev_identity
    from provenance.store import default_store_path
    from verifier import verify

    report = verify(reencoded, trust=dev_identity().root_pem, store=str(default_store_path()), mode="fast").to_dict()
    assert report["verdict"] == "recovered"
    page.execute_script("window.dirfa.render(arguments[0])", {"report": report, "thumbnails": []})
    assert page.find_element("id", "verdict").get_attribute("data-verdict") == "recovered"
    recovery = page.find_element("id", "recovery")
    assert recovery.get_attribute("data-found") == "true" and recovery.get_attribute("data-status") == "recovered"
    assert report["recovery"]["manifest_id"] in recovery.text
    assert "dirfa development identity" in recovery.text
    assert "from the recovered manifest" in _text(page, "signer-note")


def test_report_strings_are_never_markup(page):
    """Every report string (signer, claims, errors, thumbnail labels) is written as text; only data:image thumbnails."""
    png = "data:image/png;base64," + (
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    answer = {
        "report": {
            "verdict": "signed_untrusted", "summary": HOSTILE, "ai_generated": None, "source": HOSTILE, "mode": "fast",
            "media": {"mime": HOSTILE}, "errors": [HOSTILE],
            "c2pa": {"present": True, "status": "valid_untrusted", "trusted": False, "signer_subject": HOSTILE,
                     "signer_issuer": HOSTILE, "claim_generator": HOSTILE, "actions": [HOSTILE],
                     "ingredients": [HOSTILE], "generation": {HOSTILE: HOSTILE}, "reasons": ["untrusted"],
                     "failure_codes": []},
            "watermark": {"analysed": True, "found": True, "content_id": HOSTILE, "frames_analysed": 1,
                          "segments": [{"start_s": 0, "end_s": 1, "found": True, "content_id": HOSTILE}]},
            "binding": {"checked": True, "matches": False, "manifest_value": HOSTILE, "watermark_value": HOSTILE},
            "recovery": {"attempted": False},
        },
        "thumbnails": [{"label": HOSTILE, "mime": "image/png", "data_uri": png},
                       {"label": "not an image", "mime": "image/png", "data_uri": "javascript:window.__pwned=2"}],
    }  # fmt: skip
    page.execute_script("window.dirfa.render(arguments[0])", answer)
    assert _text(page, "verdict") == "Signed, signer not trusted" and _text(page, "signer-trust") == "not trusted"
    for element_id in ("summary", "source", "signer", "ingredients", "errors", "thumbnails"):
        assert HOSTILE in _text(page, element_id), element_id
    imgs = page.execute_script("return [...document.querySelectorAll('#result img')].map(i => i.getAttribute('src'))")
    assert imgs == [png]  # the one genuine thumbnail; the javascript: one is dropped
    assert page.execute_script("return window.__pwned") is None
    assert _text(page, "ai-generated") == "Unknown"


# --- HTTP errors -----------------------------------------------------------------------------------------------


def test_a_file_over_the_limit_gets_a_clear_413_message(page, tmp_path):
    big = tmp_path / "big.mp4"
    big.write_bytes(bytes(UPLOAD_LIMIT + 1))
    assert upload(page, big) == ""
    error = page.find_element("id", "error")
    assert error.get_attribute("data-status") == "413" and "larger than this service accepts" in error.text
    assert not page.find_element("id", "result").is_displayed()


def test_a_busy_service_says_when_to_try_again(page, service, signed_video):
    state = service.state
    saved = state.uploads
    state.uploads = state.config.max_uploads  # every upload slot taken: the service answers 503 + Retry-After
    try:
        assert upload(page, signed_video) == ""
    finally:
        state.uploads = saved
    error = page.find_element("id", "error")
    assert error.get_attribute("data-status") == "503"
    assert "busy" in error.text and "try again in 1 second" in error.text
    assert page.find_element("id", "again").is_displayed()  # and the same file can be sent again at once
    page.find_element("id", "again").click()
    _wait(page, lambda d: d.find_element("id", "result").is_displayed())
    assert page.find_element("id", "verdict").get_attribute("data-verdict") == "verified"
    assert not page.find_element("id", "error").is_displayed()


def test_a_network_failure_is_explained(page, signed_video):
    page.set_network_conditions(offline=True, latency=0, download_throughput=-1, upload_throughput=-1)
    try:
        assert upload(page, signed_video) == ""
    finally:
        page.delete_network_conditions()
    assert "Could not reach the verifier service" in _text(page, "error")
    assert page.find_element("id", "error").get_attribute("data-status") == "network"
