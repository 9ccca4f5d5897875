"""The console of a machine built through the embedding API (pysystem.api).

    console = machine.console                     # serial0
    m = console.expect(r"login: ", timeout=30)    # 30 s of *guest* time; a re.Match
    console.expect("ready", timeout=5, wall=True) # 5 s of host time instead
    console.send("ls /\\n")                        # type (str or bytes)
    out = console.command("ls /", prompt="/ # ")  # output between the echo and the prompt
    console.fail_on(r"Kernel panic")              # any wait ends at once when this appears
    console.transcript                            # everything the guest printed (str)

Waits run the machine (``Machine.run`` with a stop condition checked between slices of
at most 100,000 instructions), so a timeout in guest time means the same on a fast
and a slow host.  Each ``expect`` searches from the end of the previous match (as
pexpect does); ``command`` sends ``cmd`` and Enter, waits for the echo of ``cmd``
and then for ``prompt``, and returns what came between, with ``\\r\\n`` as ``\\n``.

A wait that fails raises ``ConsoleError`` (an AssertionError, so pytest shows it as a
failed assertion): the timeout, the failure pattern that appeared, or the machine that
stopped; its message ends with the last lines of the transcript, and ``.transcript``
holds all of it.

Input is handed to the UART as fast as it takes it (its FIFO), the rest when the guest
reads: no host timing is involved, so a run with input is as deterministic as one
without.
"""
from __future__ import annotations

import codecs
import re
import time
from typing import List, Optional, Pattern, Union

__all__ = ["Console", "ConsoleError"]

TAIL = 3000                 # characters of transcript in an error message
DEFAULT_TIMEOUT = 60.0      # seconds (guest time) of a wait


class ConsoleError(AssertionError):
    """A console wait failed; ``transcript`` is everything the guest printed."""

    def __init__(self, message: str, transcript: str):
        tail = transcript[-TAIL:]
        cut = "...\n" if len(transcript) > TAIL else ""
        super().__init__(f"{message}; the console's last output:\n{cut}{tail}")
        self.reason = message
        self.transcript = transcript


Regex = Union[str, Pattern]


class Console:
    """serial0 of an API machine: its transcript, waits and input."""

    def __init__(self, machine, chardev):
        self._machine = machine
        self._chardev = chardev
        self._parts: List[str] = []
        self._text = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._pos = 0                     # expect searches from here
        self._fail: List[Pattern] = []
        self._fail_pos = 0                # failure patterns are searched from here
        chardev.on_output.append(self._output)

    # --- what the guest printed ---------------------------------------------------------
    def _output(self, data: bytes) -> None:
        self._parts.append(self._decoder.decode(data))

    @property
    def transcript(self) -> str:
        """Everything the guest printed on this console (decoded as UTF-8)."""
        if self._parts:
            self._text += "".join(self._parts)
            self._parts.clear()
        return self._text

    def clear_position(self) -> None:
        """Let the next ``expect`` search only output printed from now on."""
        self._pos = self._fail_pos = len(self.transcript)

    # --- input ----------------------------------------------------------------------------
    def send(self, data: Union[str, bytes]) -> None:
        """Type ``data`` (no Enter added: see ``sendline``)."""
        if isinstance(data, str):
            data = data.encode()
        self._chardev.deliver(bytes(data))

    def sendline(self, line: Union[str, bytes] = "") -> None:
        self.send((line.encode() if isinstance(line, str) else line) + b"\n")

    def drop_input(self) -> None:
        """Forget input the guest has not taken yet (a snapshot restore does this)."""
        self._chardev._pending.clear()

    # --- waits ----------------------------------------------------------------------------
    def fail_on(self, *patterns: Regex) -> None:
        """Any wait raises ConsoleError as soon as one of ``patterns`` is printed."""
        self._fail.extend(re.compile(p) if isinstance(p, str) else p for p in patterns)

    def expect(self, pattern: Regex, timeout: float = DEFAULT_TIMEOUT,
               wall: bool = False) -> "re.Match[str]":
        """Run the machine until ``pattern`` appears after the previous match; returns
        the match (of the transcript).  ``timeout`` is in guest seconds, or host seconds
        with ``wall=True``."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        machine = self._machine
        clock = machine.board.clock
        deadline_ns = clock.now() + int(timeout * 1e9)
        deadline_wall = time.monotonic() + timeout
        found: List["re.Match[str]"] = []
        seen = [-1]

        def done() -> bool:
            text = self.transcript
            if len(text) != seen[0]:
                seen[0] = len(text)
                self._check_failures(text)
                m = regex.search(text, self._pos)
                if m:
                    found.append(m)
                    return True
            if wall:
                return time.monotonic() >= deadline_wall
            return clock.now() >= deadline_ns

        machine.run(until=done, _wait=True)
        if not found:
            what = f"{timeout:g} s ({'host' if wall else 'guest'} time)"
            if machine.exit_status is not None:
                why = f"the machine ended ({machine.board.shutdown_reason or 'exit'})"
            elif not done() and not machine.board.running:
                why = "the machine is stopped"
            elif not done():
                why = "the guest waits with nothing to wake it"
            else:
                why = f"not within {what}"
            raise ConsoleError(f"did not see {regex.pattern!r}: {why}", self.transcript)
        m = found[0]
        self._pos = m.end()
        return m

    def _check_failures(self, text: str) -> None:
        for regex in self._fail:
            m = regex.search(text, self._fail_pos)
            if m:
                self._fail_pos = m.end()
                raise ConsoleError(f"the console printed {m.group(0)!r} (failure pattern "
                                   f"{regex.pattern!r})", text)

    def command(self, cmd: str, prompt: Optional[Regex] = None,
                timeout: float = DEFAULT_TIMEOUT, wall: bool = False) -> str:
        """Type ``cmd`` and Enter, wait for its echo and then for ``prompt`` (default: the
        machine's ``prompt``); returns the output between them, ``\\r\\n`` as ``\\n``."""
        prompt = prompt if prompt is not None else self._machine.prompt
        if prompt is None:
            raise ValueError("command() needs a prompt (or give the Machine one)")
        self._pos = len(self.transcript)
        self.sendline(cmd)
        echo = self.expect(re.escape(cmd.strip()) + r"\r*\n", timeout, wall)
        end = self.expect(prompt, timeout, wall)
        return self.transcript[echo.end():end.start()].replace("\r\n", "\n")
