"""The monitor: HMP (monitor.hmp), later QMP, snapshots and the gdb stub.

    from pysystem.monitor.hmp import Monitor, command, info_command
"""
