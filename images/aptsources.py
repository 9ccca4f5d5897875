"""Find a Debian archive mirror in the host's apt configuration.

Interface:

* ``read_sources(etc_apt="/etc/apt")`` -> list of ``Source`` (types, uri, suites,
  components, enabled) from ``sources.list``, ``sources.list.d/*.list`` (one-line
  format) and ``sources.list.d/*.sources`` (deb822 format).
* ``find_mirror(suite="bookworm", etc_apt="/etc/apt")`` -> the URI of the best
  ``deb`` entry for a Debian suite, or None.
* ``mirror_from(option, suite)`` -> the mirror to use: the option, else
  ``$PYSYSTEM_DEBIAN_MIRROR``, else the apt configuration; raises ``ImageError``
  with a one-line hint when there is none.

Preference: an enabled ``deb`` entry whose suites include ``suite`` itself (not
``suite-security``/``-updates``/``-backports``); failing that, one for another
Debian release name (the archive holding it holds every release).  Security
archives and unsupported URI schemes (cdrom:, mirror+file:, tor+...) are skipped.
"""
from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from typing import List, Optional

from .errors import ImageError

__all__ = ["Source", "parse_one_line", "parse_deb822", "read_sources", "find_mirror",
           "mirror_from", "MIRROR_ENV"]

MIRROR_ENV = "PYSYSTEM_DEBIAN_MIRROR"

# Release names and aliases served by a full Debian archive.
DEBIAN_SUITES = {
    "buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid",
    "oldoldstable", "oldstable", "stable", "testing", "unstable",
}
_SCHEMES = ("http://", "https://", "file:/", "ftp://")


@dataclass
class Source:
    types: List[str]
    uri: str
    suites: List[str]
    components: List[str] = field(default_factory=list)
    enabled: bool = True
    origin: str = ""          # file it came from, for messages


def parse_one_line(text: str, origin: str = "") -> List[Source]:
    """Parse ``deb [opts] uri suite comp...`` lines (sources.list format)."""
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        line = re.sub(r"\[[^\]]*\]", " ", line)     # options: [arch=amd64 signed-by=...]
        words = line.split()
        if len(words) < 3 or words[0] not in ("deb", "deb-src"):
            continue
        out.append(Source([words[0]], words[1], [words[2]], words[3:], True, origin))
    return out


def parse_deb822(text: str, origin: str = "") -> List[Source]:
    """Parse deb822 stanzas (``Types:``, ``URIs:``, ``Suites:``, ``Components:``)."""
    out = []
    stanzas: List[dict] = []
    current: dict = {}
    last = None
    for raw in text.splitlines():
        if raw.lstrip().startswith("#"):
            continue
        if not raw.strip():
            if current:
                stanzas.append(current)
            current, last = {}, None
            continue
        if raw[0] in " \t" and last is not None:       # continuation line
            current[last] += " " + raw.strip()
            continue
        if ":" in raw:
            key, value = raw.split(":", 1)
            last = key.strip().lower()
            current[last] = value.strip()
    if current:
        stanzas.append(current)
    for st in stanzas:
        enabled = st.get("enabled", "yes").strip().lower() not in ("no", "false", "0")
        types = st.get("types", "").split()
        comps = st.get("components", "").split()
        for uri in st.get("uris", "").split():
            out.append(Source(types, uri, st.get("suites", "").split(), comps, enabled, origin))
    return out


def read_sources(etc_apt: str = "/etc/apt") -> List[Source]:
    """All apt sources configured under ``etc_apt``, in apt's reading order."""
    out: List[Source] = []
    main = os.path.join(etc_apt, "sources.list")
    files = [main] if os.path.isfile(main) else []
    files += sorted(glob.glob(os.path.join(etc_apt, "sources.list.d", "*.list")) +
                    glob.glob(os.path.join(etc_apt, "sources.list.d", "*.sources")))
    for path in files:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        if path.endswith(".sources"):
            out += parse_deb822(text, path)
        else:
            out += parse_one_line(text, path)
    return out


def _usable(src: Source) -> bool:
    return (src.enabled and "deb" in src.types and src.uri.startswith(_SCHEMES)
            and "security" not in src.uri.rstrip("/").rsplit("/", 1)[-1])


def find_mirror(suite: str = "bookworm", etc_apt: str = "/etc/apt") -> Optional[str]:
    """The URI of the apt entry that serves ``suite``'s main archive, or None."""
    sources = [s for s in read_sources(etc_apt) if _usable(s)]
    for s in sources:
        if suite in s.suites:
            return s.uri.rstrip("/")
    for s in sources:
        if any(x in DEBIAN_SUITES for x in s.suites):
            return s.uri.rstrip("/")
    return None


def mirror_from(option: Optional[str] = None, suite: str = "bookworm",
                etc_apt: str = "/etc/apt") -> str:
    """The mirror to use: ``option``, else $PYSYSTEM_DEBIAN_MIRROR, else apt's sources."""
    for value in (option, os.environ.get(MIRROR_ENV)):
        if value:
            if not value.startswith(_SCHEMES):
                raise ImageError(f"mirror '{value}' is not an http://, https:// or file: URL")
            return value.rstrip("/")
    found = find_mirror(suite, etc_apt)
    if not found:
        raise ImageError(f"no Debian mirror for '{suite}' found in {etc_apt}; "
                         f"pass --mirror URL (or set {MIRROR_ENV})")
    return found
