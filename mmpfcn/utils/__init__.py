"""Utilities of mmpfcn. Importing this package installs the safe checkpoint
loader (see :mod:`mmpfcn.utils.checkpoint_safety`), the verified URL
loader (see :mod:`mmpfcn.utils.checkpoint_download`) and atomic local writes
(see :mod:`mmpfcn.utils.atomic_local_backend`)."""
from .atomic_local_backend import (AtomicLocalBackend,
                                   install_atomic_local_backend)
from .atomic_write import atomic_write
from .checkpoint_download import (CheckpointDownloadError,
                                  install_url_checkpoint_loading)
from .checkpoint_safety import (UnsafeCheckpointError,
                                install_safe_checkpoint_loading,
                                mmengine_safe_globals)

install_safe_checkpoint_loading()
install_url_checkpoint_loading()
install_atomic_local_backend()

__all__ = [
    'AtomicLocalBackend', 'CheckpointDownloadError', 'UnsafeCheckpointError',
    'atomic_write', 'install_atomic_local_backend',
    'install_safe_checkpoint_loading', 'mmengine_safe_globals'
]
