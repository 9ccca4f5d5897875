"""``null``: output is discarded, there is never any input."""
from __future__ import annotations

from ..qom import register
from .base import Chardev


@register
class NullChardev(Chardev):
    TYPE = "chardev-null"
    BACKEND = "null"
