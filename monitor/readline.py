"""Line editing for the monitor on any chardev (terminal, pipe, pty, socket, mux).

    ed = LineEditor(write, on_line, complete, prompt="(qemu) ")
    ed.show_prompt()           # print the prompt and the line being edited
    ed.feed(b"info st\\t\\r")   # keys in; on_line(text) -> bool runs each entered line

``write(text)`` sends text to the user exactly as given (the editor emits
``\\r\\n`` itself); ``on_line(line)`` returns whether to show a new prompt;
``complete(text_before_cursor) -> (start, candidates)`` serves Tab.

Keys (those of QEMU's own monitor readline and of Emacs mode): printable text,
Enter (CR or LF: CR LF is two Enters, an empty line after the command, as in
QEMU, whose monitor prints a second prompt for it), Backspace/DEL, Ctrl-D or Delete (delete under the
cursor), Left/Right or Ctrl-B/Ctrl-F, Home/End or Ctrl-A/Ctrl-E, Ctrl-K (kill
to the end), Ctrl-U (kill to the start), Ctrl-W (kill the word before the
cursor), Up/Down or Ctrl-P/Ctrl-N (history, 64 lines, no repeats), Tab
(complete: one candidate is inserted with a blank after it, several insert
their common prefix, or are listed when there is nothing to add).  Escape sequences are the VT100/xterm ones (``ESC [ A``,
``ESC O H``, ``ESC [ 3 ~`` ...); unknown ones are ignored, as are other control
bytes and invalid UTF-8.

Redrawing uses only backspaces, spaces and the text itself, so the output
stays readable over pipes and dumb terminals; typing at the end of the line
echoes just the typed characters.
"""
from __future__ import annotations

import codecs
import re
from typing import Callable, List, Optional, Tuple

HISTORY_MAX = 64
_PLAIN = re.compile("[^\x00-\x1f\x7f\x9b\ufffd]+")     # a run of text to insert as is


def common_prefix(words: List[str]) -> str:
    if not words:
        return ""
    lo, hi = min(words), max(words)
    i = 0
    while i < len(lo) and lo[i] == hi[i]:
        i += 1
    return lo[:i]


def columns(words: List[str], width: int = 80) -> str:
    """Candidates laid out in columns, as QEMU's readline lists them."""
    cell = max(len(w) for w in words) + 2
    per_line = max(1, width // cell)
    lines = []
    for i in range(0, len(words), per_line):
        lines.append("".join(w.ljust(cell) for w in words[i:i + per_line]).rstrip())
    return "\r\n".join(lines) + "\r\n"


class LineEditor:
    def __init__(self, write: Callable[[str], None], on_line: Callable[[str], bool],
                 complete: Optional[Callable[[str], Tuple[int, List[str]]]] = None,
                 prompt: str = "(qemu) "):
        self.write, self.on_line, self.completer, self.prompt = write, on_line, complete, prompt
        self.line = ""
        self.cursor = 0
        self.history: List[str] = []
        self.hist_pos: Optional[int] = None   # index into history while browsing
        self.saved = ""                       # the line being typed when browsing started
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._esc = ""                        # an escape sequence being read

    # --- output ------------------------------------------------------------------------
    def show_prompt(self) -> None:
        self.write(self.prompt + self.line + "\b" * (len(self.line) - self.cursor))

    def reset_line(self) -> None:
        self.line, self.cursor, self._esc = "", 0, ""
        self.hist_pos = None

    def _set(self, line: str, cursor: int, same: Optional[int] = None) -> None:
        """Replace the line and cursor, redrawing only what changed; ``same``, when the
        caller knows it, is where the change starts (no scan of the unchanged text)."""
        old, oc = self.line, self.cursor
        if same is None:
            p = 0
            while p < min(len(old), len(line)) and old[p] == line[p]:
                p += 1
        else:
            p = same
        out = []
        if oc > p:
            out.append("\b" * (oc - p))
        elif oc < p:
            out.append(old[oc:p])
        out.append(line[p:])
        extra = len(old) - len(line)
        if extra > 0:
            out.append(" " * extra + "\b" * extra)
        out.append("\b" * (len(line) - cursor))
        self.line, self.cursor = line, cursor
        text = "".join(out)
        if text:
            self.write(text)

    # --- input -------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Keys in.  Runs of plain text are inserted at once, so a long line costs time
        linear in its length (one key at a time it was quadratic: 16,000 characters
        took 45 s)."""
        text = self._decoder.decode(bytes(data))
        i = 0
        while i < len(text):
            run = None if self._esc else _PLAIN.match(text, i)
            if run is None:
                self._key(text[i])
                i += 1
                continue
            self._insert(run.group())
            i = run.end()

    def _insert(self, text: str) -> None:
        c = self.cursor
        self._set(self.line[:c] + text + self.line[c:], c + len(text), same=c)

    def _key(self, ch: str) -> None:
        if self._esc:
            self._escape(ch)
            return
        o = ord(ch)
        if ch in "\r\n":
            self._enter()
        elif ch == "\x1b":
            self._esc = ch
        elif ch == "\t":
            self._complete()
        elif o in (0x7F, 0x08):
            if self.cursor:
                self._set(self.line[:self.cursor - 1] + self.line[self.cursor:], self.cursor - 1)
        elif o == 0x04:
            self._delete()
        elif o == 0x01:
            self._set(self.line, 0)
        elif o == 0x05:
            self._set(self.line, len(self.line))
        elif o == 0x02:
            self._set(self.line, max(0, self.cursor - 1))
        elif o == 0x06:
            self._set(self.line, min(len(self.line), self.cursor + 1))
        elif o == 0x0B:
            self._set(self.line[:self.cursor], self.cursor)
        elif o == 0x15:
            self._set(self.line[self.cursor:], 0)
        elif o == 0x17:
            i = self.cursor
            while i and self.line[i - 1] == " ":
                i -= 1
            while i and self.line[i - 1] != " ":
                i -= 1
            self._set(self.line[:i] + self.line[self.cursor:], i)
        elif o == 0x10:
            self._history(-1)
        elif o == 0x0E:
            self._history(+1)
        elif o >= 0x20 and ch != "\ufffd" and o != 0x9B:
            self._insert(ch)

    def _escape(self, ch: str) -> None:
        seq = self._esc + ch
        if len(seq) == 2:
            if ch in "[O":
                self._esc = seq
                return
            self._esc = ""
            return                          # Alt-key: ignored
        if ch.isdigit() or ch == ";":
            self._esc = seq if len(seq) < 16 else ""
            return
        self._esc = ""
        body = seq[2:]
        if body in ("A",):
            self._history(-1)
        elif body == "B":
            self._history(+1)
        elif body == "C":
            self._set(self.line, min(len(self.line), self.cursor + 1))
        elif body == "D":
            self._set(self.line, max(0, self.cursor - 1))
        elif body in ("H", "1~", "7~"):
            self._set(self.line, 0)
        elif body in ("F", "4~", "8~"):
            self._set(self.line, len(self.line))
        elif body == "3~":
            self._delete()

    def _delete(self) -> None:
        if self.cursor < len(self.line):
            self._set(self.line[:self.cursor] + self.line[self.cursor + 1:], self.cursor)

    def _history(self, step: int) -> None:
        if not self.history:
            return
        if self.hist_pos is None:
            if step > 0:
                return
            self.saved = self.line
            pos = len(self.history) - 1
        else:
            pos = self.hist_pos + step
        if pos < 0:
            return
        if pos >= len(self.history):
            self.hist_pos = None
            text = self.saved
        else:
            self.hist_pos = pos
            text = self.history[pos]
        self._set(text, len(text))

    def _enter(self) -> None:
        line = self.line
        self._set(line, len(line))
        self.write("\r\n")
        self.line, self.cursor, self.hist_pos = "", 0, None
        if line.strip() and (not self.history or self.history[-1] != line):
            self.history.append(line)
            del self.history[:-HISTORY_MAX]
        if self.on_line(line):
            self.show_prompt()

    def _complete(self) -> None:
        if self.completer is None:
            return
        before = self.line[:self.cursor]
        start, cands = self.completer(before)
        if not cands:
            return
        word = before[start:]
        if len(cands) == 1:
            add = cands[0][len(word):] if cands[0].startswith(word) else None
            if add is None:
                return
            if not cands[0].endswith("/"):
                add += " "
        else:
            prefix = common_prefix(cands)
            add = prefix[len(word):] if prefix.startswith(word) else ""
            if not add:
                self.write("\r\n" + columns(cands))
                self.show_prompt()
                return
        self._set(self.line[:self.cursor] + add + self.line[self.cursor:], self.cursor + len(add))
