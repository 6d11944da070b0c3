"""Test-only fault injection: SIGKILL this process while it writes a file.

Imported through ``custom_imports`` by
``tests/data/configs/tiny_panoptic_fcn_kill_on_write.py`` (tests/data on
``PYTHONPATH``). When ``MMPFCN_KILL_ON_WRITE`` holds a regular expression,
the N-th file being written whose path matches it (N:
``MMPFCN_KILL_ON_WRITE_COUNT``, default 1) is cut to half its size and the
process kills itself with SIGKILL. The check sits in ``os.fsync``,
which ``mmpfcn.utils.atomic_write`` calls after writing the data and before
moving the file into place, so the disk is left as by a kill in the middle of
the write.
"""
import os
import re
import signal

PATTERN = os.environ.get('MMPFCN_KILL_ON_WRITE')
COUNT = int(os.environ.get('MMPFCN_KILL_ON_WRITE_COUNT', 1))
matches = []
real_fsync = os.fsync


def fsync_or_die(fd: int) -> None:
    """``os.fsync``, or truncate and SIGKILL at the COUNT-th file matching
    PATTERN."""
    path = os.readlink(f'/proc/self/fd/{fd}')
    if re.search(PATTERN, path):
        matches.append(path)
    if len(matches) == COUNT:
        os.ftruncate(fd, os.fstat(fd).st_size // 2)
        os.kill(os.getpid(), signal.SIGKILL)
    real_fsync(fd)


if PATTERN:
    os.fsync = fsync_or_die
