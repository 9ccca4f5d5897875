"""The ARM CPU: a Cortex-A9 (ARMv7-A) executed by translating guest code to Python.

See README.md in this folder for the design and how to add instructions.
"""
from .cpu import ARMCPU, VirtualAccessError

__all__ = ["ARMCPU", "VirtualAccessError"]
