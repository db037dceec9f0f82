"""Read a WAV file in blocks without holding it in memory (a numpy memory map; no soundfile,
torchaudio or torchcodec; numpy is imported only when reading, so the module imports in the
common venv). PCM 16/24/32-bit and IEEE float 32/64, any channel count (averaged to mono),
plain or WAVE_FORMAT_EXTENSIBLE headers."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

PCM, FLOAT, EXTENSIBLE = 1, 3, 0xFFFE


@dataclass(frozen=True)
class WavInfo:
    path: Path
    sample_rate: int
    channels: int
    bits: int
    fmt: int  # PCM or FLOAT
    data_offset: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def probe(path: Path) -> WavInfo:
    """Parse the RIFF header; raise ValueError naming what is wrong."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        riff = handle.read(12)
        if len(riff) < 12 or riff[:4] not in (b"RIFF", b"RF64") or riff[8:12] != b"WAVE":
            raise ValueError(f"{path} is not a WAV file")
        fmt = None
        while True:
            header = handle.read(8)
            if len(header) < 8:
                raise ValueError(f"{path}: no data chunk")
            chunk_id, chunk_size = header[:4], struct.unpack("<I", header[4:])[0]
            if chunk_id == b"fmt ":
                body = handle.read(chunk_size + (chunk_size & 1))
                tag, channels, rate = struct.unpack("<HHI", body[:8])
                bits = struct.unpack("<H", body[14:16])[0]
                if tag == EXTENSIBLE and len(body) >= 26:
                    tag = struct.unpack("<H", body[24:26])[0]
                fmt = (tag, channels, rate, bits)
            elif chunk_id == b"data":
                if fmt is None:
                    raise ValueError(f"{path}: data chunk before fmt chunk")
                offset = handle.tell()
                available = size - offset
                # a WAV written to a pipe says 0 or 0xFFFFFFFF: trust the file size instead
                length = available if chunk_size in (0, 0xFFFFFFFF) else min(chunk_size,
                                                                               available)
                tag, channels, rate, bits = fmt
                if (tag, bits) not in ((PCM, 16), (PCM, 24), (PCM, 32), (FLOAT, 32),
                                       (FLOAT, 64)):
                    raise ValueError(f"{path}: unsupported WAV encoding (format {tag}, "
                                     f"{bits} bit); expected PCM 16/24/32 or float 32/64")
                frames = length // (channels * bits // 8)
                return WavInfo(path, rate, channels, bits, tag, offset, frames)
            else:
                handle.seek(chunk_size + (chunk_size & 1), 1)


def read(info: WavInfo, start: int, count: int) -> np.ndarray:
    """Frames [start, start + count) as mono float32 in [-1, 1] (shorter at the end)."""
    import numpy as np

    start = max(0, min(start, info.frames))
    count = max(0, min(count, info.frames - start))
    if count == 0:
        return np.zeros(0, dtype=np.float32)
    width = info.bits // 8
    if info.bits == 24:
        raw = np.memmap(info.path, dtype=np.uint8, mode="r",
                        offset=info.data_offset + start * info.channels * 3,
                        shape=(count * info.channels, 3))
        wide = np.zeros((raw.shape[0], 4), dtype=np.uint8)
        wide[:, 1:] = raw
        samples = wide.view("<i4").reshape(-1).astype(np.float32) / 2**31
    else:
        dtype = {(PCM, 2): "<i2", (PCM, 4): "<i4", (FLOAT, 4): "<f4", (FLOAT, 8): "<f8"}[
            (info.fmt, width)]
        raw = np.memmap(info.path, dtype=dtype, mode="r",
                        offset=info.data_offset + start * info.channels * width,
                        shape=(count * info.channels,))
        samples = np.array(raw, dtype=np.float32)  # a copy: the map closes below
        if info.fmt == PCM:
            samples /= float(2 ** (info.bits - 1))
    del raw
    if info.channels > 1:
        samples = samples.reshape(-1, info.channels).mean(axis=1, dtype=np.float32)
    return np.ascontiguousarray(samples, dtype=np.float32)
