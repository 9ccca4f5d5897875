"""The declarative decoder now lives in the shared engine (``pysystem.cpu.engine.decode``);
this name stays for ``vfp_decode.py``, which another change is editing at the same time."""
from ..engine.decode import Args, Decoder, Form, ror32, sext  # noqa: F401
