"""Maps the top-level folders into the one `pysystem` namespace.

The design card puts cpu/, machines/, devices/, memory/, monitor/ and images/ at the
top of the tree; they install as pysystem.cpu, pysystem.machines, and so on, so no
top-level module called `cpu` or `memory` is ever installed.
"""
import os

from setuptools import setup

TOP_LEVEL = ["cpu", "devices", "machines", "memory", "monitor", "images"]


def packages_under(folder: str, name: str):
    found = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith((".", "__"))]
        if "__init__.py" in files:
            rel = os.path.relpath(root, folder)
            pkg = name if rel == "." else name + "." + rel.replace(os.sep, ".")
            found[pkg] = root
    return found


package_dir = packages_under("pysystem", "pysystem")
for folder in TOP_LEVEL:
    package_dir.update(packages_under(folder, "pysystem." + folder))

# data files a package reads at run time (images/build_mips.py: the build configurations)
PACKAGE_DATA = {"pysystem.images": ["configs/*.config"]}

setup(packages=sorted(package_dir), package_dir=package_dir, package_data=PACKAGE_DATA)
