"""The spool's on-disk record format: pure encode/decode and scanning, no I/O.

A segment file is a sequence of records::

    magic "CWS1" | u32 payload length | u32 CRC-32 | u64 created (ms) | payload

little-endian; the CRC covers length, created time and payload. The payload is one batch of
candles as MessagePack (a list of 13-tuples, the :class:`~candlewick.model.Candle` fields in
order; spools written before ``derived`` existed hold 12-tuples and still decode).
:func:`scan` walks a segment and stops trusting it at the first record that does not check
out (a torn write after a crash, or a damaged disk); it then looks for the next record that
does, so one bad record costs only itself.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from candlewick.model import Candle

__all__ = [
    "HEADER",
    "MAGIC",
    "Corruption",
    "RecordInfo",
    "Scan",
    "check_record",
    "decode_batch",
    "encode_batch",
    "encode_record",
    "scan",
]

MAGIC = b"CWS1"
HEADER = struct.Struct("<4sIIQ")
#: A record larger than this is corruption, not data (a batch is far smaller).
MAX_PAYLOAD = 256 * 1024 * 1024

_Tuple = tuple[str, str, int, int, str, str, str, str, str, int, bool, Literal["live", "rest"], bool]
_Tuple12 = tuple[str, str, int, int, str, str, str, str, str, int, bool, Literal["live", "rest"]]
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(list[_Tuple])
_decoder12 = msgspec.msgpack.Decoder(list[_Tuple12])


def encode_batch(batch: Sequence[Candle]) -> bytes:
    """MessagePack of the batch's candles."""
    return _encoder.encode(
        [
            (c.coin, c.interval, c.open_time, c.close_time, c.open, c.high, c.low, c.close, c.volume, c.trades,
             c.closed, c.origin, c.derived)
            for c in batch
        ]
    )  # fmt: skip


def decode_batch(payload: bytes) -> list[Candle]:
    """The candles of a payload written by :func:`encode_batch`."""
    try:
        return [Candle(*t) for t in _decoder.decode(payload)]
    except msgspec.ValidationError:
        return [Candle(*t) for t in _decoder12.decode(payload)]


def _crc(length: int, created_ms: int, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(struct.pack("<IQ", length, created_ms)))


def encode_record(payload: bytes, created_ms: int) -> bytes:
    """One record: header plus payload."""
    return HEADER.pack(MAGIC, len(payload), _crc(len(payload), created_ms, payload), created_ms) + payload


@dataclass(frozen=True, slots=True)
class RecordInfo:
    """Where a valid record sits in its segment."""

    offset: int
    size: int  # header + payload
    created_ms: int


@dataclass(frozen=True, slots=True)
class Corruption:
    """A stretch of a segment that held no valid record."""

    offset: int
    size: int
    reason: str


@dataclass
class Scan:
    """Result of scanning one segment."""

    records: list[RecordInfo] = field(default_factory=list)
    corrupt: list[Corruption] = field(default_factory=list)


def check_record(data: bytes | memoryview, offset: int) -> RecordInfo | str:
    """The record at ``offset``, or why there is none."""
    end = len(data)
    if end - offset < HEADER.size:
        return "truncated header"
    magic, length, crc, created = HEADER.unpack_from(data, offset)
    if magic != MAGIC:
        return "bad magic"
    if length > MAX_PAYLOAD:
        return f"impossible length {length}"
    start = offset + HEADER.size
    if start + length > end:
        return "truncated payload"
    if _crc(length, created, bytes(data[start : start + length])) != crc:
        return "checksum mismatch"
    return RecordInfo(offset, HEADER.size + length, created)


def scan(data: bytes) -> Scan:
    """Every valid record of a segment, and the stretches that were not."""
    out = Scan()
    offset, end = 0, len(data)
    while offset < end:
        found = check_record(data, offset)
        if isinstance(found, RecordInfo):
            out.records.append(found)
            offset += found.size
            continue
        # Resynchronise on the next magic that starts a valid record.
        probe = offset
        while True:
            probe = data.find(MAGIC, probe + 1)
            if probe < 0 or isinstance(check_record(data, probe), RecordInfo):
                break
        stop = end if probe < 0 else probe
        out.corrupt.append(Corruption(offset, stop - offset, found))
        offset = stop
    return out
