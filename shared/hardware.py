"""Probe the machine: OS, CPU, RAM, CUDA devices and VRAM, Apple Silicon (MPS / MLX).

Uses only the standard library and ``nvidia-smi``, so it runs in the common venv without
torch and takes well under a second.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import subprocess
import sys

from pydantic import BaseModel, Field

logger = logging.getLogger(__name__)


class CudaDevice(BaseModel):
    index: int
    name: str
    vram_mb: int


class HardwareInfo(BaseModel):
    os: str
    os_release: str
    arch: str
    python: str
    cpu_cores: int
    ram_mb: int
    cuda_devices: list[CudaDevice] = Field(default_factory=list)
    cuda_driver: str | None = None
    apple_silicon: bool = False

    @property
    def has_cuda(self) -> bool:
        return bool(self.cuda_devices)



def _ram_mb() -> int:
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        try:
            return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20)
        except (ValueError, OSError):
            pass
    if sys.platform == "darwin":
        out = subprocess.run(["sysctl", "-n", "hw.memsize"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip().isdigit():
            return int(out.stdout.strip()) // 2**20
    if sys.platform == "win32":
        import ctypes

        class MemoryStatus(ctypes.Structure):
            _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                        ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
                        ("ullTotalPageFile", ctypes.c_ulonglong),
                        ("ullAvailPageFile", ctypes.c_ulonglong),
                        ("ullTotalVirtual", ctypes.c_ulonglong),
                        ("ullAvailVirtual", ctypes.c_ulonglong),
                        ("sullAvailExtendedVirtual", ctypes.c_ulonglong)]

        status = MemoryStatus()
        status.dwLength = ctypes.sizeof(MemoryStatus)
        ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status))  # type: ignore[attr-defined]
        return int(status.ullTotalPhys // 2**20)
    return 0


def _cuda_devices() -> tuple[list[CudaDevice], str | None]:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return [], None
    try:
        out = subprocess.run(
            [smi, "--query-gpu=index,name,memory.total,driver_version",
             "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=15,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        logger.warning("nvidia-smi failed (%s): treating this machine as CPU-only", e)
        return [], None
    if out.returncode != 0:
        logger.warning("nvidia-smi exited %d: treating this machine as CPU-only", out.returncode)
        return [], None
    devices, driver = [], None
    for line in out.stdout.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 4 or not parts[0].isdigit():
            continue
        devices.append(CudaDevice(index=int(parts[0]), name=parts[1],
                                  vram_mb=int(float(parts[2]))))
        driver = parts[3]
    return devices, driver


def probe() -> HardwareInfo:
    cuda, driver = _cuda_devices()
    return HardwareInfo(
        os=sys.platform,
        os_release=platform.release(),
        arch=platform.machine(),
        python=platform.python_version(),
        cpu_cores=os.cpu_count() or 1,
        ram_mb=_ram_mb(),
        cuda_devices=cuda,
        cuda_driver=driver,
        apple_silicon=sys.platform == "darwin" and platform.machine() == "arm64",
    )
