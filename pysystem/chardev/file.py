"""``file,path=F[,append=on]``: output is written to a host file; no input.

The file is opened (truncated unless ``append=on``) when the chardev is created,
so a bad path is reported at start-up.  Writes are unbuffered.
"""
from __future__ import annotations

import os

from ..qom import Property, register
from .base import Chardev, ChardevError


class _PathProperty(Property):
    """``path`` is taken by the object tree (Object.path): keep the value as ``file_path``."""

    __slots__ = ()

    @property
    def attr(self) -> str:
        return "file_path"


@register
class FileChardev(Chardev):
    TYPE = "chardev-file"
    BACKEND = "file"
    PROPERTIES = (
        _PathProperty("path", "str", None, "the output file"),
        Property("append", "bool", False, "append to the file instead of truncating it"),
    )

    def __init__(self, **props):
        super().__init__(**props)
        if not self.file_path:
            raise ChardevError("chardev: file: no filename given")
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if self.append else os.O_TRUNC)
        try:
            self.fd = os.open(self.file_path, flags, 0o666)
        except OSError as e:
            raise ChardevError(f"Could not open '{self.file_path}': {e.strerror}") from None

    def filename(self) -> str:
        return f"file:{self.file_path}"

    def _write(self, data: bytes) -> int:
        if self.fd < 0:
            return len(data)
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        return len(data)

    def _close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
