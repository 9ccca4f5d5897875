"""System calls on processes, identity, time and signals, mixed into ``Process``.

fork, vfork and clone without CLONE_VM (or with CLONE_VFORK) fork the emulator itself: the
child continues with a copy of the guest (the guest RAM is a private mapping).  Threads
(CLONE_VM without CLONE_VFORK) are threads.py's.
execve of a program for this CPU (or a ``#!`` script whose interpreter is one) starts a
new emulator in the same process (see cli.py: ``exec_argv``); anything else is the
host's execve.
"""
from __future__ import annotations

import os
import signal as _signal
import struct
import sys
import time

from pysystem import log

from .signals import DEFAULT_IGNORED, SIG_DFL, SIG_IGN
from .threads import (CLONE_CHILD_SETTID, CLONE_PARENT_SETTID, CLONE_SETTLS, CLONE_VFORK,
                      CLONE_VM, RESTART, SA_RESTART, Interrupted, WaitAgain)

SI_TKILL = -6   # si_code of a signal sent by tkill/tgkill
#: how often a thread waiting in wait4 looks for its child while other threads run
WAIT_POLL = 0.005
CLOCKS = {0: time.CLOCK_REALTIME, 1: time.CLOCK_MONOTONIC, 2: time.CLOCK_PROCESS_CPUTIME_ID,
          3: time.CLOCK_THREAD_CPUTIME_ID, 4: getattr(time, "CLOCK_MONOTONIC_RAW", 4),
          5: 5, 6: 6, 7: getattr(time, "CLOCK_BOOTTIME", 7)}
RLIMITS = {0: "RLIMIT_CPU", 1: "RLIMIT_FSIZE", 2: "RLIMIT_DATA", 3: "RLIMIT_STACK",
           4: "RLIMIT_CORE", 7: "RLIMIT_NOFILE"}


def s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


class ProcessCalls:
    """Mixed into Process."""

    # --- ending ---------------------------------------------------------------------------
    def sys_exit_group(self, status, *_):
        from .outcome import ProcessExit
        raise ProcessExit(status & 0xFF)

    def sys_exit(self, status, *_):
        return self.exit_thread(status)

    # --- identity -------------------------------------------------------------------------
    def sys_getpid(self, *_):
        return self.pid

    def sys_gettid(self, *_):
        return self.current.tid

    def sys_getppid(self, *_):
        return os.getppid()

    def sys_getuid32(self, *_):
        return os.getuid()

    def sys_geteuid32(self, *_):
        return os.geteuid()

    def sys_getgid32(self, *_):
        return os.getgid()

    def sys_getegid32(self, *_):
        return os.getegid()

    sys_getuid, sys_geteuid, sys_getgid, sys_getegid = \
        sys_getuid32, sys_geteuid32, sys_getgid32, sys_getegid32

    def sys_getgroups32(self, size, lst, *_):
        groups = os.getgroups()
        if size:
            if size < len(groups):
                return -self.errno("EINVAL")
            self.mem.write(lst, struct.pack(self.arch.order + "%dI" % len(groups), *groups))
        return len(groups)

    sys_getgroups = sys_getgroups32

    def sys_getresuid32(self, r, e, s, *_):
        for addr, v in zip((r, e, s), os.getresuid()):
            self.mem.write(addr, struct.pack(self.arch.order + "I", v))
        return 0

    def sys_getresgid32(self, r, e, s, *_):
        for addr, v in zip((r, e, s), os.getresgid()):
            self.mem.write(addr, struct.pack(self.arch.order + "I", v))
        return 0

    def sys_setuid32(self, uid, *_):
        os.setuid(uid)
        return 0

    def sys_setgid32(self, gid, *_):
        os.setgid(gid)
        return 0

    def sys_getpgid(self, pid, *_):
        return os.getpgid(s32(pid))

    def sys_getpgrp(self, *_):
        return os.getpgrp()

    def sys_setpgid(self, pid, pgid, *_):
        os.setpgid(s32(pid), s32(pgid))
        return 0

    def sys_setsid(self, *_):
        return os.setsid()

    def sys_getsid(self, pid, *_):
        return os.getsid(s32(pid))

    def sys_set_tid_address(self, addr, *_):
        self.current.clear_tid = addr
        return self.current.tid

    def sys_set_thread_area(self, addr, *_):
        self.arch.set_tls(self, addr)
        return 0

    def sys_set_robust_list(self, *_):
        return -self.errno("ENOSYS")   # as QEMU: glibc copes

    def sys_prctl(self, option, *_):
        return -self.errno("EINVAL") if option != 15 else 0   # PR_SET_NAME accepted

    def sys_uname(self, buf, *_):
        u = os.uname()
        fields = (u.sysname, u.nodename, u.release, u.version, self.arch.uname_machine, "(none)")
        data = b"".join(os.fsencode(f)[:64].ljust(65, b"\0") for f in fields)
        self.mem.write(buf, data)
        return 0

    def sys_getrandom(self, buf, count, flags, *_):
        data = os.urandom(min(count, 1 << 20))
        self.mem.write(buf, data)
        return len(data)

    def sys_sched_yield(self, *_):
        return 0

    def sys_sched_getaffinity(self, pid, size, mask, *_):
        if size < 4:
            return -self.errno("EINVAL")
        self.mem.write(mask, struct.pack(self.arch.order + "I", 1))
        return 4

    # --- limits -----------------------------------------------------------------------------
    def _rlimit(self, res):
        import resource
        name = RLIMITS.get(res)
        if name is None:
            return (0xFFFFFFFF, 0xFFFFFFFF)
        cur, mx = resource.getrlimit(getattr(resource, name))
        return tuple(0xFFFFFFFF if v < 0 or v >= 0xFFFFFFFF else v for v in (cur, mx))

    def sys_ugetrlimit(self, res, buf, *_):
        self.mem.write(buf, struct.pack(self.arch.order + "II", *self._rlimit(res)))
        return 0

    sys_getrlimit = sys_ugetrlimit

    def sys_setrlimit(self, res, buf, *_):
        return 0

    def sys_prlimit64(self, pid, res, new, old, *_):
        if old:
            cur, mx = (v if v != 0xFFFFFFFF else (1 << 64) - 1 for v in self._rlimit(res))
            self.mem.write(old, struct.pack(self.arch.order + "QQ", cur, mx))
        return 0

    # --- time ---------------------------------------------------------------------------------
    def _clock(self, clk):
        return time.clock_gettime_ns(CLOCKS.get(clk, time.CLOCK_REALTIME))

    def sys_clock_gettime64(self, clk, ts, *_):
        ns = self._clock(clk)
        self.mem.write(ts, struct.pack(self.arch.order + "qq", ns // 10 ** 9, ns % 10 ** 9))
        return 0

    def sys_clock_gettime(self, clk, ts, *_):
        ns = self._clock(clk)
        self.mem.write(ts, struct.pack(self.arch.order + "ii", ns // 10 ** 9, ns % 10 ** 9))
        return 0

    def sys_clock_getres_time64(self, clk, ts, *_):
        if ts:
            self.mem.write(ts, struct.pack(self.arch.order + "qq", 0, 1))
        return 0

    def sys_gettimeofday(self, tv, tz, *_):
        ns = time.time_ns()
        if tv:
            self.mem.write(tv, struct.pack(self.arch.order + "ii", ns // 10 ** 9, ns // 1000 % 10 ** 6))
        return 0

    def sys_time(self, tloc, *_):
        t = int(time.time())
        if tloc:
            self.mem.write(tloc, struct.pack(self.arch.order + "i", t))
        return t

    def sys_clock_nanosleep_time64(self, clk, flags, req, rem, *_):
        return self._clock_nanosleep(clk, flags, req, "qq")

    def sys_clock_nanosleep(self, clk, flags, req, rem, *_):
        return self._clock_nanosleep(clk, flags, req, "ii")

    def _clock_nanosleep(self, clk, flags, req, fmt):
        sec, ns = struct.unpack(self.arch.order + fmt, self.mem.read(req, struct.calcsize(fmt)))
        t = sec + ns / 1e9
        if flags & 1:   # TIMER_ABSTIME
            t -= self._clock(clk) / 1e9
        return self._sleep(t)

    def sys_nanosleep(self, req, rem, *_):
        sec, ns = struct.unpack(self.arch.order + "ii", self.mem.read(req, 8))
        return self._sleep(sec + ns / 1e9)

    def _sleep(self, seconds: float) -> object:
        """Sleep in the scheduler: other threads run meanwhile, a signal for a guest
        handler ends it with EINTR (threads.py)."""
        if seconds <= 0:
            return 0
        return self.wait_in_host((), time.monotonic() + seconds, lambda: 0, restart=False)

    def sys_times(self, buf, *_):
        t = os.times()
        hz = 100
        if buf:
            self.mem.write(buf, struct.pack(self.arch.order + "iiii", int(t.user * hz),
                                            int(t.system * hz), int(t.children_user * hz),
                                            int(t.children_system * hz)))
        return int(t.elapsed * hz) & 0x7FFFFFFF

    def sys_getrusage(self, who, buf, *_):
        self.mem.write(buf, bytes(72))
        return 0

    # --- processes ------------------------------------------------------------------------------
    def _fork(self) -> int:
        sys.stdout.flush()
        sys.stderr.flush()
        log.active().out.flush()
        pid = os.fork()
        if pid == 0:   # the child has only the calling thread
            self.pid = os.getpid()
            self.threads = [self.current]
            self.current.tid = self.pid
        return pid

    def sys_fork(self, *_):
        pid = self._fork()
        return pid

    sys_vfork = sys_fork

    def sys_clone(self, flags, newsp, ptid, tls, ctid, *_):
        if flags & CLONE_VM and not flags & CLONE_VFORK:
            return self.clone_thread(flags, newsp, ptid, tls, ctid)
        pid = self._fork()
        if pid == 0:
            if newsp:
                self.arch.set_stack_pointer(self.cpu, newsp)
            if flags & CLONE_SETTLS:
                self.arch.set_tls(self, tls)
            if flags & CLONE_CHILD_SETTID and ctid:
                self.mem.write(ctid, struct.pack(self.arch.order + "i", self.pid))
            return 0
        if flags & CLONE_PARENT_SETTID and ptid:
            self.mem.write(ptid, struct.pack(self.arch.order + "i", pid))
        return pid   # CLONE_VFORK: the parent goes on at once (the child has its own copy)

    def sys_wait4(self, pid, status, options, rusage, *_):
        if options & os.WNOHANG:
            return self._wait4(pid, status, options, rusage)
        if len(self.threads) == 1 and (hasattr(os, "waitid") or not self._has_handlers()):
            return self._wait4_alone(pid, status, options, rusage)
        # other threads run while this one waits: it looks again every WAIT_POLL s
        got = self._wait4(pid, status, options | os.WNOHANG, rusage)
        if got:
            return got

        def again():
            r = self._call("wait4", self._wait4, (pid, status, options | os.WNOHANG, rusage))
            return r or WaitAgain((), time.monotonic() + WAIT_POLL)
        return self.wait_in_host((), time.monotonic() + WAIT_POLL, again)

    def _wait4_alone(self, pid, status, options, rusage):
        """wait4 with no other thread to run: the host waits for the child without
        reaping it (waitid's WNOWAIT, which a signal for a guest handler may interrupt
        at no loss), then wait4 takes it.  (PyPy 3.9 has no waitid: with no guest
        handler to interrupt it, wait4 blocks; with one, sys_wait4 polls instead.)"""
        if not hasattr(os, "waitid"):
            return self._wait4(pid, status, options, rusage)
        while True:
            got = self._wait4(pid, status, options | os.WNOHANG, rusage)
            if got:
                return got
            which, ident = self._waitid_target(s32(pid))
            flags = os.WEXITED | os.WNOWAIT | (os.WSTOPPED if options & 2 else 0) \
                | (getattr(os, "WCONTINUED", 8) if options & 8 else 0)
            self.host_waiting = True
            try:
                if self.deliverable_signal() is not None:
                    raise Interrupted
                os.waitid(which, ident, flags)
            except Interrupted:   # the handler runs when the call returns
                if self.signals.get(self.deliverable_signal())[1] & SA_RESTART:
                    return RESTART
                return -self.errno("EINTR")
            except ChildProcessError:
                pass   # the next wait4 reports it
            finally:
                self.host_waiting = False

    @staticmethod
    def _waitid_target(pid: int):
        if pid == -1:
            return os.P_ALL, 0
        if pid > 0:
            return os.P_PID, pid
        return os.P_PGID, (os.getpgrp() if pid == 0 else -pid)

    def _wait4(self, pid, status, options, rusage):
        got, st, _ru = os.wait4(s32(pid), options & 0xF)
        if status and got:
            self.mem.write(status, struct.pack(self.arch.order + "i", self.arch.wait_status(st)))
        if rusage:
            self.mem.write(rusage, bytes(72))
        return got

    def sys_waitid(self, *_):
        return -self.errno("ENOSYS")

    def sys_kill(self, pid, sig, *_):
        os.kill(s32(pid), self.arch.host_signal(sig))
        return 0

    def sys_tgkill(self, tgid, tid, sig, *_):
        if s32(tid) == self.pid:
            self.signal_codes[self.arch.host_signal(sig)] = SI_TKILL
        return self.sys_kill(tid, sig)

    def sys_tkill(self, tid, sig, *_):
        return self.sys_tgkill(tid, tid, sig)

    def sys_execve(self, path, argv, envp, *_):
        from .execve import do_execve
        return do_execve(self, path, argv, envp)

    # --- signals ----------------------------------------------------------------------------------
    def sys_rt_sigaction(self, sig, act, oact, size, *_):
        hsig = self.arch.host_signal(sig)
        if not 0 < hsig < 65 or hsig in (_signal.SIGKILL, _signal.SIGSTOP) and act:
            return -self.errno("EINVAL")
        if oact:
            self.mem.write(oact, self.arch.pack_sigaction(self.signals.get(hsig)))
        if act:
            action = self.arch.unpack_sigaction(self.mem.read(act, self.arch.sigaction_size))
            self.signals.set(hsig, action)
            self._host_disposition(hsig, action[0])
        return 0

    def _host_disposition(self, sig: int, handler: int) -> None:
        if sig in (_signal.SIGSEGV, _signal.SIGBUS, _signal.SIGILL, _signal.SIGFPE):
            return
        try:
            if handler == SIG_IGN:
                _signal.signal(sig, _signal.SIG_IGN)
            elif handler == SIG_DFL or (sig in DEFAULT_IGNORED and not self.arch.can_deliver):
                _signal.signal(sig, _signal.SIG_DFL)
            else:
                _signal.signal(sig, self._host_signal_arrived)
        except (OSError, ValueError, RuntimeError):
            pass

    def _host_signal_arrived(self, sig, frame) -> None:
        self.pending_signals.add(sig)
        self.cpu.exit_request = True
        if self.host_waiting and self.deliverable_signal() is not None:
            raise Interrupted   # the host waits for the guest: the handler runs now

    def deliverable_signal(self):
        """A pending signal that a guest handler takes now (not blocked), or None."""
        for sig in sorted(self.pending_signals):
            if not self.signals.blocked >> (self.arch.guest_signal(sig) - 1) & 1 \
                    and self.signals.get(sig)[0] not in (SIG_DFL, SIG_IGN):
                return sig
        return None

    def sys_rt_sigprocmask(self, how, new, old, size, *_):
        a = self.arch
        if old:
            self.mem.write(old, a.pack_sigset(self.signals.blocked))
        if new:
            mask = a.unpack_sigset(self.mem.read(new, 8))
            cur = self.signals.blocked
            how = a.sigprocmask_how.get(how)
            if how == "SIG_BLOCK":
                cur |= mask
            elif how == "SIG_UNBLOCK":
                cur &= ~mask
            elif how == "SIG_SETMASK":
                cur = mask
            else:
                return -self.errno("EINVAL")
            self.signals.blocked = cur
        return 0

    def sys_sigreturn(self, *_):
        from .outcome import SIGRETURN
        self.arch.sigreturn(self, False)
        return SIGRETURN

    def sys_rt_sigreturn(self, *_):
        from .outcome import SIGRETURN
        self.arch.sigreturn(self, True)
        return SIGRETURN

    def sys_sigaltstack(self, new, old, *_):
        if old:
            self.mem.write(old, struct.pack(self.arch.order + "iii", 0, 2, 0))   # SS_DISABLE
        return 0

    def _has_handlers(self) -> bool:
        return any(a[0] not in (SIG_DFL, SIG_IGN) for a in self.signals.actions.values())

    def sys_rt_sigsuspend(self, mask, *_):
        """pause() with the signal mask at ``mask`` (threads.py: with_mask)."""
        return self.with_mask(mask, self.sys_pause)

    def sys_pause(self, *_):
        """Until a signal for a guest handler (in the scheduler: other threads run)."""
        return self.wait_in_host((), None, lambda: -self.errno("EINTR"), restart=False,
                                 ready=lambda: False)

    def sys_alarm(self, secs, *_):
        return _signal.alarm(secs)

    def _itimer(self, buf: int, value) -> None:
        if buf:
            (v, i) = value
            self.mem.write(buf, struct.pack(self.arch.order + "iiii", int(i), round(i % 1 * 1e6),
                                            int(v), round(v % 1 * 1e6)))

    def sys_setitimer(self, which, new, old, *_):
        """The host's interval timers (SIGALRM, SIGVTALRM, SIGPROF on the emulator)."""
        isec, iusec, vsec, vusec = struct.unpack(self.arch.order + "iiii", self.mem.read(new, 16))
        prev = _signal.setitimer(which, vsec + vusec / 1e6, isec + iusec / 1e6)
        self._itimer(old, prev)
        return 0

    def sys_getitimer(self, which, buf, *_):
        self._itimer(buf, _signal.getitimer(which))
        return 0

