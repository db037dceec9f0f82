"""System tools that come from the OS (ffmpeg, ffprobe; espeak-ng, sox and Chromium with its
chromedriver for tests):
where they are, and the exact command that installs them on this machine."""

from __future__ import annotations

import shutil
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


def find(tool: str) -> str | None:
    return shutil.which(tool)


def require(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise PipelineError(f"{tool} is not installed or not on PATH",
                            fix=install_command([tool]))
    return path
