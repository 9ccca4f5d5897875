"""User-mode emulation: one Linux program for ARM or MIPS run on the host's kernel (QEMU's
qemu-arm / qemu-mipsel / qemu-mips).

| module | holds |
|---|---|
| `cli.py` | the front ends and their options |
| `process.py` | the process: CPU, memory, loading, the system call dispatch, signals |
| `memory.py` | the flat 4 GiB guest space with page permissions |
| `elf.py` | ELF loading and the initial stack |
| `arch_arm.py`, `arch_mips.py` | each CPU's user-mode seams and calling conventions |
| `abi.py` | flag, structure and number differences between guest and host |
| `sys_files.py`, `sys_memory.py`, `sys_process.py`, `sys_sockets.py` | the system calls |
| `threads.py` | guest threads on the one CPU, futex |
| `sigframe_arm.py`, `sigframe_mips.py` | signal frames and sigreturn |
| `binfmt.py` | `pysystem-binfmt`: binfmt_misc entries |
| `execve.py` | execve: a new emulator for guest programs |
| `strace.py` | `-strace` in QEMU's format |
| `signals.py`, `sysnums.py`, `paths.py` | signal numbers, system call tables, `-L` |
"""
