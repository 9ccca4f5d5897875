"""Guest paths to host paths, as QEMU's ``-L``: an absolute path that exists under the
prefix is taken from there (the dynamic loader, libraries, the root's /etc), anything
else from the host.  ``/proc/self/exe`` answers for the guest program."""
from __future__ import annotations

import os


class PathMap:
    def __init__(self, prefix: str):
        self.prefix = os.path.abspath(prefix) if prefix else ""

    def host(self, path: str) -> str:
        p = self.prefix
        if p and path.startswith("/") and path != "/":
            cand = p + path
            if os.path.lexists(cand):
                return cand
        return path

    def hostb(self, path: bytes) -> bytes:
        """``host`` for the bytes a system call passes."""
        p = self.prefix
        if p and path.startswith(b"/") and path != b"/":
            cand = os.fsencode(p) + path
            if os.path.lexists(cand):
                return cand
        return path
