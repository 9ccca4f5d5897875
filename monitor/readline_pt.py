"""The monitor on a real terminal: prompt_toolkit line editing, history and completion.

    if wants_prompt_toolkit(chardev):
        front = PromptToolkitFrontend(monitor, chardev)   # instead of readline.LineEditor
        chardev.set_handlers(None, None, front.event)

Used when the monitor owns a ``stdio`` chardev whose stdin and stdout are both
terminals (``-monitor stdio`` in a shell), prompt_toolkit imports, ``TERM`` is not
``dumb`` and ``PYSYSTEM_MONITOR_READLINE`` is not ``simple``.  Everywhere else
(pipes, ptys handed to other programs, sockets, the ``-nographic`` mux) the
monitor uses ``readline.LineEditor``, which edits over any byte stream.

prompt_toolkit runs its prompt in a thread of its own (it has its own event
loop); each entered line is handed to the main loop through a pipe, run there
by ``Monitor.execute`` between guest slices, and the thread prompts again once
the output is printed, so commands never race the guest.  Tab completes with
``Monitor.complete`` (the same completer the simple editor uses); history is
kept for the session; Ctrl-C clears the line; Ctrl-D on an empty line is ignored,
as in QEMU.  If the emulator exits while a prompt is up (the guest powered off),
the terminal modes prompt_toolkit switched on are switched off again.
"""
from __future__ import annotations

import atexit
import os
import queue
import threading
from typing import Optional

from pysystem import __version__


def wants_prompt_toolkit(chardev) -> bool:
    from pysystem.chardev import StdioChardev
    if not isinstance(chardev, StdioChardev):
        return False
    if os.environ.get("PYSYSTEM_MONITOR_READLINE", "") == "simple":
        return False
    if os.environ.get("TERM", "dumb") == "dumb":
        return False
    try:
        if not (os.isatty(chardev.in_fd) and os.isatty(chardev.out_fd)):
            return False
        import prompt_toolkit  # noqa: F401
    except (ImportError, OSError, AttributeError):
        return False
    return True


def _completer(monitor):
    from prompt_toolkit.completion import Completer, Completion

    class MonitorCompleter(Completer):
        def get_completions(self, document, complete_event):
            text = document.text_before_cursor
            try:
                start, cands = monitor.complete(text)
            except Exception:  # noqa: BLE001 - completion must never break the prompt
                return
            for c in cands:
                yield Completion(c, start_position=start - len(text))
    return MonitorCompleter()


class PromptToolkitFrontend:
    def __init__(self, monitor, chardev, prompt: str = "(qemu) "):
        self.monitor, self.chardev, self.prompt = monitor, chardev, prompt
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.done = threading.Event()
        self.stop = False
        self.thread: Optional[threading.Thread] = None
        self._wake_r = self._wake_w = -1

    def _write(self, text: str) -> None:
        self.chardev.write(text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8", "replace"))

    def event(self, ev: str) -> None:
        if ev != "opened" or self.thread is not None:
            return
        self._write(f"pysystem {__version__} monitor - type 'help' for more information\n")
        loop = self.chardev.loop
        if loop is None:
            return
        self._wake_r, self._wake_w = os.pipe()
        loop.add_reader(self._wake_r, self._run_line)
        self.thread = threading.Thread(target=self._prompt_loop, name="hmp-prompt", daemon=True)
        self.thread.start()
        atexit.register(self._leave_terminal)

    def _leave_terminal(self) -> None:
        """The emulator exits while a prompt is up: undo what prompt_toolkit switched on
        (bracketed paste, hidden cursor, no autowrap); the termios settings are restored
        by the stdio chardev."""
        if self.thread is not None and self.thread.is_alive():
            try:
                os.write(self.chardev.out_fd, b"\r\n\x1b[?2004l\x1b[?25h\x1b[?7h")
            except OSError:
                pass

    # --- the prompt thread ----------------------------------------------------------------
    def _prompt_loop(self) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import InMemoryHistory
        session = PromptSession(history=InMemoryHistory(), completer=_completer(self.monitor),
                                complete_while_typing=False)
        while not self.stop:
            try:
                line = session.prompt(self.prompt)
            except KeyboardInterrupt:
                continue
            except EOFError:
                if session.default_buffer.text == "" and os.isatty(self.chardev.in_fd):
                    continue
                break
            except Exception:  # noqa: BLE001 - a broken terminal ends the prompt, not the VM
                break
            self.done.clear()
            self.lines.put(line)
            try:
                os.write(self._wake_w, b"!")
            except OSError:
                break
            self.done.wait()

    # --- the main loop side ---------------------------------------------------------------
    def _run_line(self) -> None:
        try:
            os.read(self._wake_r, 64)
        except OSError:
            pass
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line.strip() and (not self.monitor.history or self.monitor.history[-1] != line):
                self.monitor.history.append(line)
            self._write(self.monitor.execute(line))
            if self.monitor.quitting:
                self.stop = True
        self.done.set()
