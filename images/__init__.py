"""How pysystem obtains real guest images: Debian 12 kernels, DTBs, busybox initramfs.

Nothing here is committed as a binary: ``pysystem-images`` (or ``python -m
pysystem.images``) downloads Debian's own packages into a user cache.

Python interface:

* ``guest_files(arch, cache_dir=None, mirror=None, refresh=False)`` -> ``GuestFiles``
  (``.kernel``, ``.dtb`` (None on mipsel), ``.initrd``, ``.busybox``,
  ``.kernel_version``, ``.append``, ``.machine``) for "arm", "mipsel" or "mips" (big-endian
  Malta: Debian 12 has no such port, so it is built once from Debian's sources).
* ``build_initramfs(arch, init_script=None, modules=(), extra_files=None, out=None)``
  -> Path of a busybox initramfs whose /init is ``init_script``.
* ``ImageError`` (one-line message) and its subclasses ``OfflineError``, ``NotFoundError``.

Modules: ``fetch`` (cache, command line), ``aptsources`` (mirror discovery),
``archive`` (indexes and files of the archive, verified), ``build_mips`` (the
big-endian guest's build), ``packages`` (Packages and Sources indexes), ``debver`` (version order), ``download``, ``deb``
(ar + tar unpacking), ``kmod`` (kernel module dependencies), ``cpio`` (newc
writer), ``initramfs``; ``boot`` (``--boot``: the explanation, the run),
``boot_snapshot`` (the saved booted guest and its key), ``console_watch`` (the
progress line, the shell prompt).  Imports go one way: ``fetch`` uses the
others, and none of them imports ``fetch``.
"""
from __future__ import annotations

from .errors import ImageError, NotFoundError, OfflineError
from .fetch import GuestFiles, build_initramfs, default_cache_dir, guest_files
from .initramfs import BANNER, DEFAULT_INIT, make_initramfs

__all__ = ["guest_files", "GuestFiles", "build_initramfs", "make_initramfs", "default_cache_dir",
           "ImageError", "OfflineError", "NotFoundError", "BANNER", "DEFAULT_INIT"]
