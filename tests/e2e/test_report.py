"""The review report in a real browser: headless Debian Chromium driven by selenium, the
page loaded from file:// with the network off. One batch run builds the jobs once for the
module: a JFK job translated into French (the tiny random NLLB the tests build, with a
glossary, refined by the LLM stage against a loopback API) with QC flags and a hostile
title, a job whose media broke after prepare (demux, its first stage, fails), a job whose
translation model's weights were damaged after prepare (it fails mid-way, at translation:fr,
after demux and asr ran), and a job prepared but never run."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest

from shared import lockfile, run_record
from shared.paths import HARDWARE_CACHE_ENV
from shared.report.translation import ORIGINS
from tests.fixtures_translation import tiny_nllb_hub  # noqa: F401 (a fixture)
from tests.helpers import make_model_cache, prepare, run_pipeline, run_script, stage_dir
from tests.llm_server import LlmServer
from tests.png import grey_variance

pytestmark = pytest.mark.e2e

HOSTILE_TITLE = "<script>alert(1)</script> \"Q\" 'q' & שלום עולם हिन्दी फ़िल्म"
HOSTILE_LINE = "</script><script>alert(2)</script><img src=x onerror=alert(3)>"
HOSTILE_LINE_2 = "\"नमस्ते\" & 'שלום' <b>bold</b>"
API_KEY = "fake-anthropic-key-for-the-report-0123456789"
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
def library(speech, tiny_nllb_hub, tmp_path_factory) -> dict:  # noqa: F811
    from tests import tiny_nllb

    folder = tmp_path_factory.mktemp("report")
    hardware, cache = make_model_cache(folder / "models")  # Whisper base + the tiny NLLB
    tiny_nllb.copy_repo(tiny_nllb_hub, hardware.cache.hf_hub_cache)
    env = {HARDWARE_CACHE_ENV: str(cache), "ANTHROPIC_API_KEY": API_KEY}
    jobs_root = folder / "out"
    good_media = Path(shutil.copy(speech / "jfk.flac", folder / "jfk.flac"))
    broken_media = Path(shutil.copy(speech / "jfk.flac", folder / "broken.flac"))
    glossary = folder / "names.tsv"
    glossary.write_text("term\ttranslation\ncountry\tpays\n", "utf-8")
    good = prepare("--media", str(good_media), "-s", "en", "-t", "fr", "--workflow",
                   "translate", "--glossary", str(glossary), "--vad", "silero", "--title",
                   HOSTILE_TITLE, "--set", "subtitles.max_cps=5", "--set",
                   "translation.num_beams=1", "--set", "translation.engine=hybrid",
                   out=jobs_root, env=env)
    broken = prepare("--media", str(broken_media), "-s", "en", "--title", "Broken film",
                     out=jobs_root, env=env)
    damaged = local_nllb_copy(tiny_nllb_hub, folder / "nllb-damaged")  # only midway uses it
    midway = prepare("--media", str(good_media), "-s", "en", "-t", "fr", "--workflow",
                     "translate", "--title", "Failed mid-way", "--set",
                     f"translation.model={damaged}", "--set", "translation.num_beams=1",
                     out=jobs_root, env=env)
    pending = prepare("--media", str(good_media), "-s", "en", "--title", "Not run yet",
                      out=jobs_root, env=env)
    broken_media.write_bytes(b"not audio any more " * 64)  # the user's file broke after prepare
    (damaged / "model.safetensors").write_bytes(b"not weights any more " * 64)  # and this one
    with LlmServer(prefix="LLM: ", max_seconds=900) as server:
        run = run_pipeline(good, "-j", broken, "-j", midway, out=jobs_root, check=False,
                           env={**env, "ANTHROPIC_BASE_URL": server.url})
    # A hostile transcript: the good job's first cue rewritten the way the subtitles stage
    # escapes SRT, then the report rebuilt without running anything.
    srt = next((jobs_root / good / "subtitles").glob("*.en.srt"))
    srt_before = srt.read_text("utf-8")
    write_first_cue(srt, [HOSTILE_LINE, HOSTILE_LINE_2])
    rebuilt = run_script("run-pipeline.sh", "-j", good, "--report", "--out", str(jobs_root),
                         env=env)
    return {"root": jobs_root, "good": good, "broken": broken, "midway": midway,
            "pending": pending, "run": run, "rebuilt": rebuilt, "srt_before": srt_before}


def local_nllb_copy(hub: Path, folder: Path) -> Path:
    """The tiny NLLB's snapshot copied, links resolved, into a plain model folder (what
    --set translation.model=FOLDER loads): a copy to damage without touching the cache."""
    from shared import hf_cache
    from tests import tiny_nllb

    snapshot = hf_cache.snapshot_dir(hub, tiny_nllb.REPO_ID)
    assert snapshot is not None, hub
    return Path(shutil.copytree(snapshot, folder, symlinks=False))


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
    """(language, cue, rule) of every subtitle track's qc.json."""
    flags = set()
    for path in job_dir.glob("stages/*_subtitles_*/qc.json"):
        qc = json.loads(path.read_text("utf-8"))
        flags |= {(qc["language"], n, rule) for rule, t in qc["rules"].items() for n in t["cues"]}
        flags |= {(qc["language"], c["cue"], "untranslated")
                  for c in qc["untranslated"]["cues"]}
    return flags


def test_every_run_writes_the_reports_and_report_rebuilds_them(library):
    run, root = library["run"], library["root"]
    assert run.returncode == 1, run.stdout + run.stderr  # the broken and midway jobs failed
    for job in (library["good"], library["broken"], library["midway"]):
        assert f"report: {root / job / 'report.html'}" in run.stdout, run.stdout
    assert f"index: {root / 'index.html'}" in run.stdout
    rebuilt = library["rebuilt"]
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "ran" not in rebuilt.stdout and "report: " in rebuilt.stdout
    mixed = run_script("run-pipeline.sh", "-j", library["good"], "--report", "--force",
                       "--out", str(root))
    assert mixed.returncode == 2 and "--report runs no stage" in mixed.stderr, mixed.stderr
    assert not (root / library["pending"] / "report.html").exists()  # never run, no report
    assert (root / library["good"] / "report.html").stat().st_size < 200_000
    from shared.report.data import collect

    rows = {row["key"]: row for row in collect(root / library["good"])["stages"]}
    assert rows["asr"]["env"] == "whisperx" and rows["demux"]["env"] == "common"
    assert rows["translation:fr"]["env"] == "nllb" and rows["translation_llm:fr"]["env"] == "llm"
    for page in (root / library["good"] / "report.html", root / "index.html"):
        assert API_KEY not in page.read_text("utf-8")
    assert all(row["memory_text"].endswith(" MB") for row in rows.values()), rows


def test_the_stage_table_shows_what_the_run_recorded(library, browser):
    """logs/last_run.json, written by the runner as it decided and ran each stage, is what
    the stage table shows (the --report rebuild ran nothing and changed no entry)."""
    root = library["root"]
    good = run_record.load(root / library["good"])
    assert good.finished_at and set(good.stages) == {
        i["key"] for i in json.loads((root / library["good"] / "job.json").read_text())["stages"]}
    assert all((e.state, e.reasons) == ("ran", ["not run before"]) and e.wall_s is not None
               for e in good.stages.values()), good
    broken = run_record.load(root / library["broken"])
    assert list(broken.stages) == ["demux"] and broken.stages["demux"].state == "failed"
    midway = run_record.load(root / library["midway"])
    assert midway.stages["translation:fr"].state == "failed"
    for job, record in ((library["good"], good), (library["broken"], broken),
                        (library["midway"], midway)):
        open_page(browser, root / job / "report.html")
        shown = {r.get_attribute("data-key"): (r.find_element("css selector", ".state").text,
                                               r.find_element("css selector", ".reason").text)
                 for r in browser.find_elements("css selector", "#stage-table tbody tr")}
        for key, entry in record.stages.items():
            assert shown[key] == (entry.state, " ".join(
                (entry.error or "; ".join(entry.reasons)).split()))
        assert record.started_at in browser.find_element("id", "last-run").text


def test_report_opens_offline_with_no_errors_and_one_lane_block_per_cue(library, browser):
    from shared.subtitle_text import read

    job_dir = library["root"] / library["good"]
    open_page(browser, job_dir / "report.html")
    assert console_errors(browser) == []
    foreign = [u for u in requested_urls(browser) if not u.startswith(("file:", "data:"))]
    assert foreign == [], f"the report asked the network for {foreign}"
    for lang in ("en", "fr"):
        cues = read(next((job_dir / "subtitles").glob(f"*.{lang}.srt")))
        blocks = browser.find_elements("css selector", f"#lanes rect.cue-block[data-lang='{lang}']")
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


def drawn_by_chromium(driver, text: str, font: str) -> bytes:
    """``text`` in CSS ``font``, black on white at the page's top left: a PNG of it."""
    probe = driver.execute_script(
        "let s = document.getElementById('font-probe');"
        "if (!s) { s = document.createElement('span'); s.id = 'font-probe';"
        " document.body.append(s); }"
        "s.style.cssText = 'position:fixed;left:0;top:0;z-index:99;background:#fff;"
        "color:#000;font:' + arguments[1]; s.textContent = arguments[0]; return s;", text, font)
    return probe.screenshot_as_png


def test_hindi_is_drawn_as_letters_not_boxes(library, browser):
    """The title's Hindi words are drawn by a font that covers Devanagari (bootstrap installs
    Debian's fonts-lohit-deva): in the title's font, two different Hindi words draw two
    different pictures, where two words of a script no font covers (Unicode's private use
    plane: the control) draw the same boxes."""
    open_page(browser, library["root"] / library["good"] / "report.html")
    title = browser.find_element("id", "title")
    assert "हिन्दी" in title.text
    font = browser.execute_script("return getComputedStyle(arguments[0]).font", title)
    boxes = {drawn_by_chromium(browser, t, font) for t in ("\U000f0000\U000f0001",
                                                           "\U000f0002\U000f0003")}
    assert len(boxes) == 1, "the control: a script no font covers should draw the same boxes"
    hindi = {drawn_by_chromium(browser, t, font) for t in ("कखगघङ", "चछजझञ")}
    assert len(hindi) == 2, "Chromium drew Devanagari as boxes: sudo apt-get install " \
        "fonts-lohit-deva (./bootstrap.sh does it when run as root)"


def assert_failure_shown(driver, job_dir: Path, key: str) -> None:
    """The open report says failed and shows stage ``key``'s failure: its name, the message of
    its result.json and the fix (the stage's own, else: read its log, then re-run)."""
    result = json.loads((stage_dir(job_dir, key) / "result.json").read_text("utf-8"))
    assert result["status"] == "failed", result
    message, _, fix = result["error"].partition("\n  fix: ")
    assert console_errors(driver) == []
    assert driver.find_element("id", "state").text == "failed"
    assert key in driver.find_element("css selector", "#failure h2").text
    assert driver.find_element("css selector", "#failure .message").text == message.strip()
    log = "logs/" + key.replace(":", "_") + ".log"
    shown_fix = driver.find_element("id", "fix").text
    if fix:
        assert shown_fix == fix.strip()
    else:
        assert log in shown_fix and f"./run-pipeline.sh -j {job_dir.name}" in shown_fix
    assert driver.find_element("css selector", "#failure a").get_attribute("href") == \
        (job_dir / log).as_uri()


def test_failed_job_shows_the_failure_and_its_fix(library, browser):
    job_dir = library["root"] / library["broken"]
    open_page(browser, job_dir / "report.html")
    assert_failure_shown(browser, job_dir, "demux")
    assert browser.find_element("id", "cue-count").text == \
        "no cues: the subtitles stage has not finished"  # and no transcript to show
    assert not browser.find_element("id", "cue-note").is_displayed()
    assert "demux" not in lockfile.load(job_dir).stages  # nothing of the job finished


def test_a_job_failed_mid_way_shows_what_ran_the_failure_and_what_exists(library, browser):
    """The job whose translation model's weights were damaged after prepare: demux, asr and
    the stages between ran; translation:fr failed loading the weights (the real loader's
    error); the subtitles never started. Its report says failed with the stage, message and
    fix, shows each finished stage as ran with its time, and draws what exists (the
    waveform, the speech regions, the transcript as cues marked not subtitled) with no
    console error."""
    job_dir = library["root"] / library["midway"]
    records = lockfile.load(job_dir).stages
    last_run = run_record.load(job_dir)
    order = [i["key"] for i in json.loads((job_dir / "job.json").read_text())["stages"]]
    failed = order.index("translation:fr")
    assert {"demux", "asr"} <= set(order[:failed]) == set(records)  # all before it finished
    assert {k: e.state for k, e in last_run.stages.items()} == (
        dict.fromkeys(order[:failed], "ran") | {"translation:fr": "failed"})
    entry = last_run.stages["translation:fr"]
    assert "is damaged" in entry.error and "copy the model into" in (entry.fix or ""), entry
    open_page(browser, job_dir / "report.html")
    assert_failure_shown(browser, job_dir, "translation:fr")
    rows = {r.get_attribute("data-key"): [td.text for td in r.find_elements("css selector", "td")]
            for r in browser.find_elements("css selector", "#stage-table tbody tr")}
    assert list(rows) == order
    for key in order[:failed]:
        assert (rows[key][2], rows[key][4]) == ("ran", f"{records[key].duration_s:.1f} s")
    assert rows["translation:fr"][2:5] == [
        "failed", " ".join(last_run.stages["translation:fr"].error.split()), ""]
    assert all(rows[k][2] == "pending" for k in order[failed + 1:]) and order[failed + 1:]
    assert_transcript_shown_not_subtitled(browser, job_dir, "translation:fr")
    data = json.loads(browser.find_element("id", "report-data").get_attribute("textContent"))
    wave = browser.find_element("css selector", "#overview path.wave").get_attribute("d")
    assert data["peaks"]["peaks"] and wave.count("M") == len(data["peaks"]["peaks"])
    regions = speech_regions_on_disk(job_dir)
    assert regions and len(browser.find_elements("css selector", "#lanes rect.vad")) == len(
        regions)
    audio = browser.find_element("id", "audio").get_attribute("src")
    assert audio == (stage_dir(job_dir, "demux") / "audio_16k.wav").as_uri()
    assert console_errors(browser) == []


def assert_transcript_shown_not_subtitled(driver, job_dir: Path, failed: str) -> None:
    """No subtitles were written: the cue table shows the latest transcript on disk (songs',
    alignment's or asr's segments), one row per segment, marked not subtitled."""
    from shared.report.timeline import TRANSCRIPTS

    stage, path = next((stage, p) for stage, name in TRANSCRIPTS
                       for p in job_dir.glob(f"stages/*_{stage}/{name}"))
    segments = json.loads(path.read_text("utf-8"))["segments"]
    assert segments and not list(job_dir.glob("stages/*_subtitles_*/tracks.json"))
    note = f"not subtitled: the job failed at {failed}"
    data = json.loads(driver.find_element("id", "report-data").get_attribute("textContent"))
    assert [(t["role"], t.get("note")) for t in data["tracks"]] == [
        (f"{stage}, not subtitled", note)]
    assert driver.find_element("id", "cue-note").text == note
    rows = driver.find_elements("css selector", "#cue-body tr")
    assert [r.find_element("css selector", ".cue.unsubtitled .line").text for r in rows] == [
        s["text"].strip() for s in segments]
    assert [float(b.get_attribute("data-start")) for b in driver.find_elements(
        "css selector", "#lanes rect.cue-block.unsubtitled")] == pytest.approx(
        [s["start"] for s in segments])
    assert driver.find_element("id", "cue-count").text.endswith(f"({len(segments)} cues)")


def speech_regions_on_disk(job_dir: Path) -> list:
    """The vad stage's speech segments, or in a job without one asr's speech regions."""
    vad = job_dir.glob("stages/*_vad/speech_segments.json")
    if path := next(vad, None):
        return json.loads(path.read_text("utf-8"))["segments"]
    return json.loads((stage_dir(job_dir, "asr") / "segments.json").read_text("utf-8"))[
        "speech_regions"]


def test_hostile_title_and_transcript_render_as_text(library, browser):
    from selenium.common.exceptions import NoAlertPresentException

    open_page(browser, library["root"] / library["good"] / "report.html")
    assert browser.find_element("id", "title").text == HOSTILE_TITLE
    assert browser.title.startswith(HOSTILE_TITLE)
    lines = [e.text for e in browser.find_elements(
        "css selector", "#cue-body .cue[data-n='1'][data-lang='en'] .line")]
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
    assert states == ["failed", "failed", "pending", "ok"]
    jobs = [r.get_attribute("data-job") for r in rows]
    assert set(jobs[:2]) == {library["broken"], library["midway"]}
    assert jobs[2:] == [library["pending"], library["good"]]
    good_row = rows[3]
    assert good_row.find_element("css selector", "td").text == HOSTILE_TITLE
    good_dir = root / library["good"]
    duration = json.loads((stage_dir(good_dir, "demux") / "media_info.json").read_text())[
        "duration"]
    created = json.loads((good_dir / "job.json").read_text())["created_at"]
    assert [td.text for td in good_row.find_elements("css selector", "td")][1:6] == [
        "jfk.flac", "en → fr", "ok", f"0:00:{int(duration):02d}", created]
    link = good_row.find_element("link text", "report").get_attribute("href")
    assert link == (root / library["good"] / "report.html").as_uri()
    header = browser.find_element("css selector", "th[data-key='state']")
    header.click()
    header.click()  # the second click reverses
    states = [e.text for e in browser.find_elements("css selector", "#jobs tr.job .state")]
    assert states == ["ok", "pending", "failed", "failed"]
    assert console_errors(browser) == []


def test_translation_shows_each_line_beside_its_source_with_languages_and_glossary(
        library, browser):
    """The translation section of the French job: each line of translation_llm:fr's
    segments.json (the LLM's refinement of the NMT draft) beside its English source under
    columns naming both languages, with the engine that wrote it and the glossary term its
    source holds (kept or lost by the random model); the LLM's requests, tokens and cost from
    usage.json; the glossary table counts what translation:fr reported; the cue table puts
    the two tracks side by side."""
    job_dir = library["root"] / library["good"]
    draft = json.loads((stage_dir(job_dir, "translation:fr") / "segments.json").read_text())
    data = json.loads((stage_dir(job_dir, "translation_llm:fr") / "segments.json").read_text())
    usage = json.loads((stage_dir(job_dir, "translation_llm:fr") / "usage.json").read_text())
    [term] = draft["glossary"]  # country -> pays: applied or lost, as the stage counted
    open_page(browser, job_dir / "report.html")
    assert console_errors(browser) == []
    box = browser.find_element("css selector", "#translation .translation[data-lang='fr']")
    assert box.get_attribute("data-source-lang") == data["source_language"] == "en"
    assert [th.text for th in box.find_elements("css selector", "thead th")] == [
        "time", "source (en)", "translation (fr)", "engine", "glossary"]
    rows = [[" ".join(td.text.split()) for td in row.find_elements("css selector", "td")]
            for row in box.find_elements("css selector", "tbody tr")]
    assert len(rows) == len(data["segments"]) >= 2
    for cells, line in zip(rows, data["segments"], strict=True):
        assert cells[1:4] == [" ".join(line["source_text"].split()),
                              " ".join(line["text"].split()), ORIGINS[line["origin"]]]
        kept = "kept" if term["translation"] in line["text"] else "lost"
        assert cells[4] == (f"country → pays: {kept}" if "country" in line["source_text"]
                            else "")
    assert any(cells[4] for cells in rows)  # JFK says "country" twice
    assert "LLM" in {cells[3] for cells in rows} and usage["requests"] >= 1
    assert box.find_element("css selector", ".usage").text == (
        f"LLM {usage['model']}: {usage['requests']} requests, {usage['input_tokens']} input + "
        f"{usage['output_tokens']} output tokens, cost ${usage['estimated_cost_usd']:.4f}")
    assert box.find_element("tag name", "h3").text == (
        f"fr: {draft['engine']} {draft['model']}")
    glossary = [[td.text for td in row.find_elements("css selector", "td")]
                for row in browser.find_elements("css selector", "#glossary tbody tr")]
    assert glossary == [["country", "fr: pays", str(term["applied"]), str(term["lost"])]]
    assert term["applied"] + term["lost"] == 2
    heads = [th.text for th in browser.find_elements("css selector", "#cue-head th")]
    assert heads == ["time", "en (source)", "fr (target)"]
    side_by_side = [[c.get_attribute("data-lang") for c in r.find_elements("css selector", ".cue")]
                    for r in browser.find_elements("css selector", "#cue-body tr")]
    assert ["en", "fr"] in side_by_side, side_by_side


def fact(driver, name: str) -> str:
    return driver.find_element("xpath", f"//dl[@class='facts']/dt[text()='{name}']"
                                        "/following-sibling::dd[1]").text


def test_header_and_stage_table_name_media_languages_models_and_costs(library, browser):
    """The header's facts and the stage table's time, RTF and log link, from the job's own
    files: media_info.json, asr's language shares, lock.json's models and durations."""
    job_dir = library["root"] / library["good"]
    records = lockfile.load(job_dir).stages
    duration = json.loads((stage_dir(job_dir, "demux") / "media_info.json").read_text())["duration"]
    shares = json.loads((stage_dir(job_dir, "asr") / "segments.json").read_text()).get(
        "language_shares") or {}
    open_page(browser, job_dir / "report.html")
    assert fact(browser, "media") == "jfk.flac"
    assert fact(browser, "duration") == f"0:00:{int(duration):02d}"  # the media's, not the cues'
    spoken = [f"{code} {share * 100:.0f}% (spoken)" for code, share in shares.items()]
    assert [e.text for e in browser.find_elements("css selector", ".facts .lang")] == (
        spoken or ["en (spoken)"]) + ["fr (target)"]
    assert fact(browser, "profile").endswith(
        f"device {records['asr'].components['params']['device']}")
    revisions = {str(ref).removeprefix("None@") for r in records.values()
                 for ref in r.components["models"].values()}
    assert revisions and all(rev in fact(browser, "models") for rev in revisions)
    total = sum(r.duration_s for r in records.values())
    assert fact(browser, "total time") == f"{total:.1f} s of stage time"
    for row in browser.find_elements("css selector", "#stage-table tbody tr"):
        key = row.get_attribute("data-key")
        cells = [td.text for td in row.find_elements("css selector", "td")]
        seconds = records[key].duration_s
        assert cells[4:6] == [f"{seconds:.1f} s", f"{seconds / duration:.2f}" if seconds else ""]
        link = row.find_element("tag name", "a").get_attribute("href")
        assert link == (job_dir / "logs" / (key.replace(":", "_") + ".log")).as_uri()


def test_timeline_zooms_pans_and_a_qc_flag_plays_its_span(library, browser):
    job_dir = library["root"] / library["good"]
    open_page(browser, job_dir / "report.html")
    data = json.loads(browser.find_element("id", "report-data").get_attribute("textContent"))
    lanes = browser.find_element("id", "lanes")

    def view() -> list[float]:
        return [float(lanes.get_attribute(f"data-view-{k}")) for k in ("start", "end")]

    assert view() == pytest.approx([0, data["duration"]])
    wave = browser.find_element("css selector", "#overview path.wave").get_attribute("d")
    assert data["peaks"]["peaks"] and wave.count("M") == len(data["peaks"]["peaks"])
    flag = browser.find_elements("css selector", "#lanes rect.flag-block")[-1]  # drawn on top
    start, end = (float(flag.get_attribute(f"data-{k}")) for k in ("start", "end"))
    flag.click()
    current = browser.execute_script("return document.getElementById('audio').currentTime")
    assert current == pytest.approx(start, abs=0.05)
    assert view()[0] <= start and view()[1] >= end
    browser.find_element("id", "zoom-fit").click()
    browser.find_element("id", "zoom-in").click()
    half = data["duration"] / 2
    assert view() == pytest.approx([half / 2, half / 2 + half])
    browser.find_element("id", "pan-left").click()
    assert view() == pytest.approx([0, half])  # half a view left, held at the start
    browser.find_element("id", "pan-right").click()
    assert view() == pytest.approx([half / 2, half / 2 + half])
    assert console_errors(browser) == []


def test_a_long_job_pages_its_cues_and_shows_songs_and_removed_lines(browser, tmp_path):
    """bench/report_scale.py's job folder (the stages' file shapes; 250 cues per language,
    songs with their soundtrack titles, lines the hallucination filter removed): the cue
    table holds one page of 100 rows, never all of them; the songs and removed lanes and
    tables show each entry."""
    from bench.report_scale import build_job
    from shared.report.html import write_report

    job_dir = build_job(tmp_path, hours=0.5, count=250)  # 30 minutes: one song, two removed
    songs = json.loads(next(job_dir.glob("stages/*_songs/songs.json")).read_text())["songs"]
    removed = json.loads(next(job_dir.glob("stages/*_asr/hallucinations.json")).read_text())
    open_page(browser, write_report(job_dir))
    assert console_errors(browser) == []
    assert len(browser.find_elements("css selector", "#cue-body tr")) == 100
    assert browser.find_element("id", "page-info").text == "page 1 of 3"
    browser.find_element("id", "page-next").click()
    browser.find_element("id", "page-next").click()
    assert len(browser.find_elements("css selector", "#cue-body tr")) == 50
    assert browser.find_element("css selector", "#cue-body .cue").get_attribute("data-n") == "201"
    assert len(songs) >= 1 and len(removed["removed"]) >= 1
    assert len(browser.find_elements("css selector", "#lanes rect.song")) == len(songs)
    assert [r.find_elements("css selector", "td")[3].text for r in browser.find_elements(
        "css selector", "#songs tbody tr")] == [s["track"]["title"] for s in songs]
    assert len(browser.find_elements("css selector", "#lanes rect.hallucination")) == len(
        removed["removed"])
    assert [[td.text for td in r.find_elements("css selector", "td")][2:] for r in
            browser.find_elements("css selector", "#hallucinations tbody tr")] == [
        [e["reason"], e["segment"]["text"]] for e in removed["removed"]]
