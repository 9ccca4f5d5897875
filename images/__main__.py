"""``python -m pysystem.images``: the same command as ``pysystem-images``."""
import sys

from .fetch import main

sys.exit(main())
