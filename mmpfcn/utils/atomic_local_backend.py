"""MMEngine's local file backend with atomic writes.

Every result MMEngine and MMDetection write to a local path goes through
``LocalBackend.put``/``put_text``: checkpoints (``save_checkpoint``), pickles
and JSON files (``mmengine.dump``: ``--out``, ``CocoPanopticMetric``'s
``format_only`` JSON), images (``mmcv.imwrite``: panoptic PNG dumps and
``--show-dir`` visualisations). :func:`install_atomic_local_backend` makes
those writes go through :func:`~mmpfcn.utils.atomic_write.atomic_write`.
"""
from pathlib import Path
from typing import Union

from mmengine.fileio import io as fileio_io
from mmengine.fileio.backends import LocalBackend, register_backend

from .atomic_write import atomic_write


class AtomicLocalBackend(LocalBackend):
    """A :class:`LocalBackend` whose ``put`` and ``put_text`` never leave a
    half-written file at ``filepath``."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        with atomic_write(str(filepath), 'wb') as file:
            file.write(obj)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        with atomic_write(str(filepath), 'w', encoding=encoding) as file:
            file.write(obj)


def install_atomic_local_backend() -> None:
    """Register :class:`AtomicLocalBackend` as MMEngine's ``local`` backend
    (paths without a prefix) and drop cached plain local backends.

    Called on ``import mmpfcn``; calling it again changes nothing.
    """
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    cached = fileio_io.backend_instances
    for key in [key for key, backend in cached.items()
                if type(backend) is LocalBackend]:
        del cached[key]
