"""Re-record QEMU's transcripts (``*.expected``) of the gdb stub's tests.

    python tests/baremetal/gdb/record.py [NAME...]

Builds each program, runs its command file under gdb-multiarch against qemu-system-*
(7.2, Debian's) exactly as tests/test_gdb.py runs it against pysystem, and writes the
transcript next to the command file.
"""
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

import test_gdb  # noqa: E402

for name in sys.argv[1:] or sorted(test_gdb.TARGETS):
    with tempfile.TemporaryDirectory() as folder:
        text = test_gdb.transcript(name, folder, qemu=True)
    with open(os.path.join(HERE, f"{name}.expected"), "w") as f:
        f.write(text)
    print(f"{name}.expected: {len(text.splitlines())} lines")
