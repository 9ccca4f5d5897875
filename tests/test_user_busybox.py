"""A static busybox (Debian's busybox-static for armhf, fetched by pysystem.images) runs a
shell script of some 40 applets with pipes, redirections, subshells, command
substitution, find, sort, sed, awk, tar and gzip under pysystem-user-arm and under
qemu-arm: the output must be identical.

The shell forks for pipelines and subshells (the emulator forks with it) and re-executes
itself through /proc/self/exe for most applets (a new emulator; qemu-arm cannot do that
without binfmt_misc and falls back to running the applet in the forked shell, which
prints the same).  One script, so the cost stays at about 20 s of CPU with a cold code
cache.
"""
from __future__ import annotations

import os
import subprocess

import tools

SCRIPT = r'''
set -e
mkdir -p d/sub d/other
echo "alpha beta" > d/a.txt
printf 'line %s\n' 3 1 2 >> d/sub/b.txt
seq 1 5 > d/other/n.txt
cp d/a.txt d/copy.txt
mv d/copy.txt d/moved.txt
ln -s a.txt d/link
echo "== find"; find d | sort
echo "== find -name"; find d -name '*.txt' -type f | sort
echo "== sort/uniq"; printf 'b\na\nc\na\n' | sort | uniq -c
echo "== sed"; sed -e 's/line/LINE/' -e '2d' d/sub/b.txt
echo "== awk"; awk '{ s += $1 } END { print "sum", s, NR }' d/other/n.txt
echo "== cut/tr"; echo "a:b:c" | cut -d: -f2 | tr a-z A-Z
echo "== wc"; wc -l < d/sub/b.txt
echo "== head/tail"; seq 1 20 | head -n 3; seq 1 20 | tail -n 2
echo "== grep"; grep -c line d/sub/b.txt; grep -v 2 d/sub/b.txt
echo "== subshell"; (cd d/sub && pwd | sed 's|.*/||'; echo inside) ; echo after
x=$(echo hi | tr h H); echo "cmdsub $x"
echo "== expr/test"; expr 6 \* 7; [ -d d ] && echo isdir; test -L d/link && echo islink
echo "== readlink/basename/dirname"; readlink d/link; basename /x/y/z.txt .txt; dirname /x/y/z
echo "== tar/gzip"; tar -cf t.tar d; gzip -9 t.tar; gzip -dc t.tar.gz | tar -tf - | sort
mkdir x && cd x && tar -xzf ../t.tar.gz && cat d/a.txt && cd ..
echo "== md5sum"; md5sum d/a.txt | cut -d' ' -f1
echo "== od/xxd"; printf 'AB' | od -An -tx1
echo "== rm"; rm -r x; rm d/link; ls d | sort
echo "== stat"; stat -c '%s %n' d/a.txt
echo "== env"; FOO=bar env | grep ^FOO=
echo "== printf/loops"; for i in 1 2 3; do printf '%02d ' $i; done; echo
i=0; while [ $i -lt 3 ]; do i=$((i+1)); done; echo "i=$i"
echo "== case"; case foo in f*) echo matched;; esac
echo "== redirections"; echo err 1>&2 2>/dev/null; echo out > o.txt; echo more >> o.txt; cat o.txt; cat < o.txt | wc -l
echo "== true/false"; false || echo false-failed; true && echo true-ok
echo "== sleep/date"; sleep 0; date -d @0 -u +%Y
echo "== dd"; dd if=/dev/zero bs=16 count=2 2>/dev/null | wc -c
echo "== sha256sum"; echo abc | sha256sum | cut -c1-16
echo "== uname"; uname -m
echo done
'''


def _run(argv, cwd):
    os.makedirs(cwd)
    return subprocess.run(argv, cwd=cwd, capture_output=True, timeout=600,
                          env=dict(os.environ, LC_ALL="C"))


def test_busybox_script_matches_qemu_arm(tmp_path):
    busybox = str(tools.guest_images("arm").busybox)
    script = tmp_path / "script.sh"
    script.write_text(SCRIPT)
    q = _run([tools.program("qemu-arm"), busybox, "sh", str(script)], str(tmp_path / "q"))
    p = _run([tools.guest_script("pysystem-user-arm"), busybox, "sh", str(script)],
             str(tmp_path / "p"))
    assert q.returncode == 0, q.stderr
    assert p.stderr == q.stderr
    assert p.stdout.decode().splitlines() == q.stdout.decode().splitlines()
    assert p.returncode == q.returncode
    assert p.stdout.endswith(b"armv7l\ndone\n")
