"""The review report in a real browser: headless Debian Chromium driven by selenium, the
page loaded from file:// with the network off. One batch run builds the jobs once for the
module: a JFK job with QC flags and a hostile title, a job whose media broke after prepare
(demux fails), and a job prepared but never run."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest

from shared import lockfile
from tests.helpers import prepare, run_pipeline, run_script, stage_dir
from tests.png import grey_variance

pytestmark = pytest.mark.e2e

HOSTILE_TITLE = "<script>alert(1)</script> \"Q\" 'q' & שלום עולם हिन्दी फ़िल्म"
HOSTILE_LINE = "</script><script>alert(2)</script><img src=x onerror=alert(3)>"
HOSTILE_LINE_2 = "\"नमस्ते\" & 'שלום' <b>bold</b>"
CHROMIUM, CHROMEDRIVER = "chromium", "chromedriver"


def browser_or_skip():
    """A headless Chromium session, or a loud skip naming the install command."""
    missing = [t for t in (CHROMIUM, CHROMEDRIVER) if shutil.which(t) is None]
    if missing:
        reason = (f"REPORT BROWSER TESTS SKIPPED: {', '.join(missing)} not installed; "
                  "install with: sudo apt-get install -y chromium chromium-driver "
                  "(./bootstrap.sh does it when run as root)")
        warnings.warn(reason, stacklevel=2)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = shutil.which(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1100,900", "--mute-audio"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which(CHROMEDRIVER)), options=options)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    return driver


@pytest.fixture(scope="module")
def library(test_cache, speech, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("report")
    jobs_root = folder / "out"
    good_media = Path(shutil.copy(speech / "jfk.flac", folder / "jfk.flac"))
    broken_media = Path(shutil.copy(speech / "jfk.flac", folder / "broken.flac"))
    good = prepare("--media", str(good_media), "-s", "en", "--vad", "silero", "--title",
                   HOSTILE_TITLE, "--set", "subtitles.max_cps=5", out=jobs_root)
    broken = prepare("--media", str(broken_media), "-s", "en", "--title", "Broken film",
                     out=jobs_root)
    pending = prepare("--media", str(good_media), "-s", "en", "--title", "Not run yet",
                      out=jobs_root)
    broken_media.write_bytes(b"not audio any more " * 64)  # the user's file broke after prepare
    run = run_pipeline(good, "-j", broken, out=jobs_root, check=False)
    # A hostile transcript: the good job's first cue rewritten the way the subtitles stage
    # escapes SRT, then the report rebuilt without running anything.
    srt = next((jobs_root / good / "subtitles").glob("*.en.srt"))
    srt_before = srt.read_text("utf-8")
    write_first_cue(srt, [HOSTILE_LINE, HOSTILE_LINE_2])
    rebuilt = run_script("run-pipeline.sh", "-j", good, "--report", "--out", str(jobs_root))
    return {"root": jobs_root, "good": good, "broken": broken, "pending": pending, "run": run,
            "rebuilt": rebuilt, "srt_before": srt_before}


def write_first_cue(srt: Path, lines: list[str]) -> None:
    import pysubs2

    from shared.subtitle_text import escape

    subs = pysubs2.load(str(srt), encoding="utf-8", keep_html_tags=True)
    subs[0].text = "\\N".join(escape(line, "srt") for line in lines)
    srt.write_text(subs.to_string("srt", keep_ssa_tags=True), "utf-8")


@pytest.fixture(scope="module")
def browser(library):
    driver = browser_or_skip()
    yield driver
    driver.quit()


def open_page(driver, path: Path) -> None:
    driver.get(path.as_uri())
    ready = driver.execute_script("return document.body.dataset.ready || 'index'")
    assert ready in ("1", "index"), "the report's script did not finish"


def console_errors(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def requested_urls(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def qc_flags(job_dir: Path) -> set[tuple[str, int, str]]:
    qc = json.loads((stage_dir(job_dir, "subtitles:source") / "qc.json").read_text("utf-8"))
    flags = {(qc["language"], n, rule) for rule, t in qc["rules"].items() for n in t["cues"]}
    return flags | {(qc["language"], c["cue"], "untranslated") for c in qc["untranslated"]["cues"]}


def test_every_run_writes_the_reports_and_report_rebuilds_them(library):
    run, root = library["run"], library["root"]
    assert run.returncode == 1, run.stdout + run.stderr  # the broken job failed
    for job in (library["good"], library["broken"]):
        assert f"report: {root / job / 'report.html'}" in run.stdout, run.stdout
    assert f"index: {root / 'index.html'}" in run.stdout
    rebuilt = library["rebuilt"]
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "ran" not in rebuilt.stdout and "report: " in rebuilt.stdout
    assert not (root / library["pending"] / "report.html").exists()  # never run, no report
    assert (root / library["good"] / "report.html").stat().st_size < 200_000
    from shared.report.data import collect

    rows = {row["key"]: row for row in collect(root / library["good"])["stages"]}
    assert rows["asr"]["env"] == "whisperx" and rows["demux"]["env"] == "common"
    assert all(row["memory_text"].endswith(" MB") for row in rows.values()
               if row["state"] == "ran"), rows


def test_report_opens_offline_with_no_errors_and_one_lane_block_per_cue(library, browser):
    from shared.subtitle_text import read

    job_dir = library["root"] / library["good"]
    open_page(browser, job_dir / "report.html")
    assert console_errors(browser) == []
    foreign = [u for u in requested_urls(browser) if not u.startswith(("file:", "data:"))]
    assert foreign == [], f"the report asked the network for {foreign}"
    cues = read(next((job_dir / "subtitles").glob("*.en.srt")))
    blocks = browser.find_elements("css selector", "#lanes rect.cue-block[data-lang='en']")
    assert len(cues) >= 2 and len(blocks) == len(cues)
    starts = sorted(float(b.get_attribute("data-start")) for b in blocks)
    assert starts == pytest.approx([c["start"] / 1000 for c in cues])
    vad = json.loads((stage_dir(job_dir, "vad") / "speech_segments.json").read_text("utf-8"))
    assert len(browser.find_elements("css selector", "#lanes rect.vad")) == len(vad["segments"])


def test_clicking_a_flagged_cue_moves_the_view_and_seeks_the_audio(library, browser):
    open_page(browser, library["root"] / library["good"] / "report.html")
    flagged = browser.find_elements("css selector", "#cue-body .cue.flagged")
    assert flagged, "the job was prepared with max_cps=5: some cue must be flagged"
    target = flagged[-1]
    lang, n = target.get_attribute("data-lang"), int(target.get_attribute("data-n"))
    cue = browser.execute_script(
        "const d = JSON.parse(document.getElementById('report-data').textContent);"
        "return d.tracks.find(t => t.lang === arguments[0]).cues[arguments[1] - 1];", lang, n)
    duration = browser.execute_script(
        "return JSON.parse(document.getElementById('report-data').textContent).duration")
    target.click()
    view = [float(browser.find_element("id", "lanes").get_attribute(f"data-view-{k}"))
            for k in ("start", "end")]
    assert view[0] <= cue["start"] and view[1] >= cue["end"], (view, cue)
    assert view[1] - view[0] < duration, "the view did not zoom to the cue"
    current = browser.execute_script("return document.getElementById('audio').currentTime")
    assert current == pytest.approx(cue["start"], abs=0.05)
    marked = browser.find_elements("css selector", "#lanes rect.cue-block.current")
    assert [(m.get_attribute("data-lang"), int(m.get_attribute("data-n"))) for m in marked] \
        == [(lang, n)]


def test_only_flagged_shows_exactly_the_qc_flags(library, browser):
    job_dir = library["root"] / library["good"]
    open_page(browser, job_dir / "report.html")
    every = browser.find_elements("css selector", "#cue-body tr")
    browser.find_element("id", "only-flagged").click()
    shown = set()
    for cue in browser.find_elements("css selector", "#cue-body .cue"):
        for rule in filter(None, cue.get_attribute("data-flags").split(" ")):
            shown.add((cue.get_attribute("data-lang"), int(cue.get_attribute("data-n")), rule))
    assert shown and shown == qc_flags(job_dir)
    rows = browser.find_elements("css selector", "#cue-body tr")
    assert all(r.find_elements("css selector", ".cue.flagged") for r in rows)
    flagged_numbers = {n for _, n, _ in shown}
    assert len(rows) == len(flagged_numbers) <= len(every)


def test_screenshot_is_not_blank(library, browser, tmp_path):
    open_page(browser, library["root"] / library["good"] / "report.html")
    path = tmp_path / "report.png"
    assert browser.save_screenshot(str(path))
    assert grey_variance(path) > 100, f"{path} looks blank"


def test_failed_job_shows_the_failure_and_its_fix(library, browser):
    job_dir = library["root"] / library["broken"]
    result = json.loads((stage_dir(job_dir, "demux") / "result.json").read_text("utf-8"))
    assert result["status"] == "failed", result
    message, _, fix = result["error"].partition("\n  fix: ")
    open_page(browser, job_dir / "report.html")
    assert console_errors(browser) == []
    assert browser.find_element("id", "state").text == "failed"
    assert "demux" in browser.find_element("css selector", "#failure h2").text
    assert browser.find_element("css selector", "#failure .message").text == message.strip()
    shown_fix = browser.find_element("id", "fix").text
    if fix:  # the stage's own fix, else: read its log, then re-run (completed stages kept)
        assert shown_fix == fix.strip()
    else:
        assert "logs/demux.log" in shown_fix
        assert f"./run-pipeline.sh -j {library['broken']}" in shown_fix
    assert browser.find_element("css selector", "#failure a").get_attribute("href") == \
        (job_dir / "logs" / "demux.log").as_uri()
    assert "demux" not in lockfile.load(job_dir).stages  # nothing of the job finished


def test_hostile_title_and_transcript_render_as_text(library, browser):
    from selenium.common.exceptions import NoAlertPresentException

    open_page(browser, library["root"] / library["good"] / "report.html")
    assert browser.find_element("id", "title").text == HOSTILE_TITLE
    assert browser.title.startswith(HOSTILE_TITLE)
    lines = [e.text for e in browser.find_elements(
        "css selector", "#cue-body .cue[data-n='1'] .line")]
    assert lines == [HOSTILE_LINE, HOSTILE_LINE_2]
    assert len(browser.find_elements("css selector", "script")) == 2  # the data and ours
    assert browser.find_elements("css selector", "#cue-body img") == []
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - reading it is the check
    assert console_errors(browser) == []


def test_index_lists_every_job_failed_first_and_sorts(library, browser):
    root = library["root"]
    open_page(browser, root / "index.html")
    rows = browser.find_elements("css selector", "#jobs tr.job")
    states = [r.find_element("css selector", ".state").text for r in rows]
    assert states == ["failed", "pending", "ok"]
    jobs = [r.get_attribute("data-job") for r in rows]
    assert jobs == [library["broken"], library["pending"], library["good"]]
    assert rows[2].find_element("css selector", "td").text == HOSTILE_TITLE
    link = rows[2].find_element("link text", "report").get_attribute("href")
    assert link == (root / library["good"] / "report.html").as_uri()
    header = browser.find_element("css selector", "th[data-key='state']")
    header.click()
    header.click()  # the second click reverses
    states = [e.text for e in browser.find_elements("css selector", "#jobs tr.job .state")]
    assert states == ["ok", "pending", "failed"]
    assert console_errors(browser) == []
