"""Write a file under a temporary name and move it into place.

A reader (or a resumed run) sees either the previous file or the complete
new one, never a half-written file: the data goes to a hidden temporary file
in the same directory, is flushed to disk and then renamed over the target
with :func:`os.replace`, which is atomic on POSIX file systems. If the writer
fails, the temporary file is removed; if the process is killed, only a hidden
``.<name>.*.tmp`` file can be left behind.
"""
import os
import os.path as osp
import uuid
from contextlib import contextmanager
from typing import IO, Iterator, Optional


@contextmanager
def atomic_write(path: str,
                 mode: str = 'wb',
                 encoding: Optional[str] = None) -> Iterator[IO]:
    """Open a temporary file for writing; on success it replaces ``path``.

    Args:
        path (str): Final path of the file. Missing parent directories are
            created.
        mode (str): ``'wb'`` or ``'w'``.
        encoding (str, optional): Text encoding for ``mode='w'``.

    Yields:
        IO: The open temporary file.
    """
    if mode not in ('w', 'wb'):
        raise ValueError(f'atomic_write: mode must be "w" or "wb", got {mode}')
    directory, name = osp.split(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp_path = osp.join(directory, f'.{name}.{uuid.uuid4().hex[:12]}.tmp')
    try:
        # Exclusive creation with the process umask, like open(path, 'w').
        with open(tmp_path, mode.replace('w', 'x'), encoding=encoding) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise
