"""System tools that come from the OS (ffmpeg, ffprobe; espeak-ng, sox and Chromium with its
chromedriver for tests; fonts for the Indian scripts, which burn-in (libass) and the report
(Chromium) draw as boxes without one): where they are, and the exact command that installs
them on this machine."""

from __future__ import annotations

import shutil
import subprocess
import sys

from shared.errors import PipelineError

REQUIRED = ("ffmpeg", "ffprobe")
FOR_TESTS = ("espeak-ng", "sox", "chromium", "chromedriver")  # chromium: the report's tests

# tool -> package name per package manager
PACKAGES = {
    "ffmpeg": {"apt": "ffmpeg", "brew": "ffmpeg", "winget": "Gyan.FFmpeg"},
    "ffprobe": {"apt": "ffmpeg", "brew": "ffmpeg", "winget": "Gyan.FFmpeg"},
    "espeak-ng": {"apt": "espeak-ng", "brew": "espeak-ng", "winget": None},
    "sox": {"apt": "sox", "brew": "sox", "winget": "ChrisBagwell.SoX"},
    # headless Chromium driven by selenium (tests/e2e/test_report.py); brew's casks
    "chromium": {"apt": "chromium", "brew": "--cask chromium", "winget": "Hibbiki.Chromium"},
    "chromedriver": {"apt": "chromium-driver", "brew": "--cask chromedriver", "winget": None},
}
# A font per Indian script, named "font:<fontconfig language>": Debian's Lohit fonts, 0.06 to
# 0.4 MB each (1.4 MB for the nine; fonts-noto-core covers them all in 42 MB). macOS and
# Windows ship fonts for these scripts.
FONT_PACKAGES = {"hi": "fonts-lohit-deva", "bn": "fonts-lohit-beng-bengali",
                 "gu": "fonts-lohit-gujr", "pa": "fonts-lohit-guru", "kn": "fonts-lohit-knda",
                 "ml": "fonts-lohit-mlym", "or": "fonts-lohit-orya", "ta": "fonts-lohit-taml",
                 "te": "fonts-lohit-telu"}
PACKAGES.update({f"font:{lang}": {"apt": package, "brew": None, "winget": None}
                 for lang, package in FONT_PACKAGES.items()})


def package_manager() -> str | None:
    if sys.platform == "darwin" and shutil.which("brew"):
        return "brew"
    if sys.platform == "win32" and shutil.which("winget"):
        return "winget"
    if shutil.which("apt-get"):
        return "apt"
    return None


def install_command(tools: list[str], manager: str | None = None) -> str:
    manager = manager or package_manager()
    packages = sorted({PACKAGES[t][manager] for t in tools
                       if manager and PACKAGES.get(t, {}).get(manager)})
    if manager == "apt" and packages:
        return "sudo apt-get install -y " + " ".join(packages)
    if manager == "brew" and packages:
        return "brew install " + " ".join(packages)
    if manager == "winget" and packages:
        return " ; ".join(f"winget install --id {p} -e" for p in packages)
    return f"install {', '.join(tools)} with your system's package manager and put it on PATH"


def fonts() -> tuple[str, ...]:
    """The font checks that apply here: where fontconfig lists fonts or apt can install them."""
    if shutil.which("fc-list") or package_manager() == "apt":
        return tuple(f"font:{lang}" for lang in FONT_PACKAGES)
    return ()


def find(tool: str) -> str | None:
    """The tool's path; for "font:<lang>", the file of a font covering that language."""
    if not tool.startswith("font:"):
        return shutil.which(tool)
    fc_list = shutil.which("fc-list")
    if not fc_list:
        return None
    proc = subprocess.run([fc_list, f":lang={tool.removeprefix('font:')}", "file"],
                          capture_output=True, text=True)
    files = sorted(line.strip().rstrip(":") for line in proc.stdout.splitlines() if line.strip())
    return files[0] if proc.returncode == 0 and files else None


def require(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise PipelineError(f"{tool} is not installed or not on PATH",
                            fix=install_command([tool]))
    return path
