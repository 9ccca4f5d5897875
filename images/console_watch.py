"""What ``pysystem-images --boot`` sees of the guest's console while it boots.

    watch = ConsoleWatch(prompt, icount=lambda: clock.icount, progress_fd=1)
    terminal_chardev.on_output.append(watch.output)   # everything sent to the terminal
    guest_serial.on_input.append(watch.input)         # what the guest is given to read
    loop.add_poll_hook(watch.poll)                    # between slices of guest time

* ``output(data)``: erases the progress line (if one is shown) before the data
  reaches the terminal, keeps the last ``TAIL`` bytes, and notices the shell
  prompt (``prompt``, a bytes regex matched against the end of that tail).
* ``poll()``: while the guest has been silent for ``SILENCE`` seconds and its
  output stands at the start of a line, (re)draws one line on ``progress_fd``:
  guest instructions run and host time elapsed, every ``REDRAW`` seconds.  No
  line is drawn when ``progress_fd`` is None (the caller passes None unless
  stdout is a terminal), once the prompt has appeared, or after the guest has
  been given input.
* ``prompt_seen``, ``typed`` (the guest was given input), ``screen()``: the
  last lines the guest printed (what a restored machine shows again; escape
  sequences included, so a terminal answers busybox's cursor query again).

The line is ``\\r`` + text + ``ESC[K`` (erase to the end of the line), and is
erased with ``\\r ESC[K``: only drawn at the start of a line, so it never
overwrites guest output.
"""
from __future__ import annotations

import os
import re
import time
from typing import Callable, Optional

__all__ = ["ConsoleWatch", "SILENCE", "REDRAW", "TAIL", "progress_text"]

SILENCE = 1.0       # host seconds without guest output before the line appears
REDRAW = 0.5        # host seconds between redraws
TAIL = 512          # bytes of the guest's latest output kept
SCREEN_LINES = 6    # lines of it that a restored run shows again (busybox's banner, the prompt)
ERASE = b"\r\x1b[K"


def progress_text(insns: int, elapsed: float) -> str:
    """``pysystem: 1,234 M guest instructions, 2:05`` (minutes:seconds of host time)."""
    minutes, seconds = divmod(int(elapsed), 60)
    return (f"pysystem: guest running silently, {insns // 1_000_000:,} M instructions, "
            f"{minutes}:{seconds:02d} elapsed")


class ConsoleWatch:
    def __init__(self, prompt: "re.Pattern[bytes]", icount: Callable[[], int],
                 progress_fd: Optional[int], now: Callable[[], float] = time.monotonic):
        self.prompt = prompt
        self.icount = icount
        self.progress_fd = progress_fd
        self.now = now
        self.started = now()
        self.last_output = self.started - SILENCE   # the line shows from the start
        self.last_draw = 0.0
        self.shown = False
        self.tail = bytearray()
        self.at_line_start = True
        self.prompt_seen = False
        self.typed = False

    # --- hooks ----------------------------------------------------------------------
    def output(self, data: bytes) -> None:
        if self.shown:
            self._write(ERASE)
            self.shown = False
        self.last_output = self.now()
        self.tail += data
        del self.tail[:-TAIL]
        self.at_line_start = self.tail.endswith(b"\n")
        if not self.prompt_seen and self.prompt.search(self.tail):
            self.prompt_seen = True

    def input(self, data: bytes) -> None:
        self.typed = True

    def poll(self) -> None:
        if self.progress_fd is None or self.prompt_seen or self.typed or not self.at_line_start:
            return
        t = self.now()
        if t - self.last_output < SILENCE or (self.shown and t - self.last_draw < REDRAW):
            return
        self.last_draw = t
        self.shown = True
        self._write(b"\r" + progress_text(self.icount(), t - self.started).encode() + b"\x1b[K")

    def close(self) -> None:
        """Erase the line if it is shown (the emulator is ending)."""
        if self.shown:
            self._write(ERASE)
            self.shown = False

    # --- what was seen --------------------------------------------------------------
    def screen(self) -> bytes:
        """The guest's last ``SCREEN_LINES`` lines, the one it is on (the prompt) included."""
        lines = bytes(self.tail).split(b"\n")
        return b"\n".join(lines[-SCREEN_LINES:])

    def _write(self, data: bytes) -> None:
        try:
            os.write(self.progress_fd, data)
        except OSError:
            self.progress_fd = None         # the terminal went away: stop drawing
