"""Splitting a byte stream into lines of bounded length. No I/O.

Used by both sides of the control protocol (:mod:`candlewick.control.protocol`): a peer
that never sends a newline costs at most ``max_line`` bytes of memory.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["LineFramer"]


class LineFramer:
    """Splits a byte stream into lines of at most ``max_line`` bytes.

    Holds at most ``max_line`` bytes of an unfinished line; past that it reports the overflow
    once (``None``) and discards everything after (the connection is closing).
    """

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self._buf = bytearray()
        self.overflowed = False

    @property
    def pending(self) -> int:
        """Bytes of an unfinished line held."""
        return len(self._buf)

    def feed(self, data: bytes) -> Iterator[bytes | None]:
        """Yield each complete line (without terminator); ``None`` once when a line is too long."""
        if self.overflowed:
            return
        start = len(self._buf)
        self._buf += data
        buf = self._buf
        pos = 0
        search = start
        while True:
            nl = buf.find(b"\n", search)
            if nl < 0:
                break
            end = nl - 1 if nl > pos and buf[nl - 1] == 0x0D else nl
            if end - pos > self.max_line:
                break
            line = bytes(buf[pos:end])
            pos = search = nl + 1
            if line.strip():
                yield line
        if len(buf) - pos > self.max_line:
            self.overflowed = True
            self._buf = bytearray()
            yield None
            return
        del buf[:pos]
