"""Results that leave the sandbox through an inherited pipe, read with caps.

A test can replace any file it can write, so the registry never reads its results from a path:
the collector inside writes to a pipe it inherited, and the registry reads the other end. A
FIFO, a link to /dev/zero or a rewritten file changes nothing here, and a flood stops at the cap
(the writer then gets EPIPE, and the suite fails saying so).
"""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable

# What a suite's results may take, all records together: far above real suites (a case is a
# line of a few hundred bytes; messages are cut to 8,000 characters inside).
MAX_RESULTS_BYTES = 32 * 1024 * 1024
READ_CHUNK = 64 * 1024
POLL_MS = 100


class ResultPipe:
    """One pipe: ``write_fd`` goes to the test process, this side reads it in a thread.

    With ``on_line`` each complete line is handed over as it arrives (nothing kept here);
    without it the bytes are kept (``data``). Past ``limit`` bytes it stops reading and closes
    its end: ``overflowed`` says so.
    """

    def __init__(self, limit: int = MAX_RESULTS_BYTES,
                 on_line: Callable[[bytes], None] | None = None) -> None:
        self.limit = limit
        self.on_line = on_line
        self.data = bytearray()
        self.received = 0
        self.overflowed = False
        self._partial = bytearray()
        self.read_fd, self.write_fd = os.pipe()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def start(self) -> None:
        """The child has its copy of the write end: close ours (so that the pipe ends when
        the suite's processes are gone) and start reading."""
        os.close(self.write_fd)
        self._thread.start()

    def finish(self, wait: float) -> None:
        """Wait up to ``wait`` seconds for the end of the stream, then stop reading."""
        self._thread.join(timeout=max(wait, 0))
        self._stop.set()
        self._thread.join()
        if self.on_line is not None and self._partial and not self.overflowed:
            self.on_line(bytes(self._partial))  # the last line may lack its newline
        self._partial.clear()

    def discard(self) -> None:
        """The child never started: release both ends."""
        for fd in (self.read_fd, self.write_fd):
            try:
                os.close(fd)
            except OSError:
                pass

    def _read(self) -> None:
        poller = select.poll()
        poller.register(self.read_fd, select.POLLIN)
        try:
            while not self._stop.is_set():
                if not poller.poll(POLL_MS):
                    continue
                chunk = os.read(self.read_fd, READ_CHUNK)
                if not chunk:
                    return
                self.received += len(chunk)
                if self.received > self.limit:
                    self.overflowed = True
                    return
                self._take(chunk)
        finally:
            os.close(self.read_fd)

    def _take(self, chunk: bytes) -> None:
        if self.on_line is None:
            self.data += chunk
            return
        self._partial += chunk
        if b"\n" not in chunk:
            return
        *lines, rest = bytes(self._partial).split(b"\n")
        self._partial = bytearray(rest)
        for line in lines:
            self.on_line(line)
