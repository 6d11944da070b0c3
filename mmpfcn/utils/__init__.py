"""Utilities of mmpfcn. Importing this package installs the safe checkpoint
loader (see :mod:`mmpfcn.utils.checkpoint_safety`) and the verified URL
loader (see :mod:`mmpfcn.utils.checkpoint_download`)."""
from .checkpoint_download import (CheckpointDownloadError,
                                  install_url_checkpoint_loading)
from .checkpoint_safety import (UnsafeCheckpointError,
                                install_safe_checkpoint_loading,
                                mmengine_safe_globals)

install_safe_checkpoint_loading()
install_url_checkpoint_loading()

__all__ = [
    'CheckpointDownloadError', 'UnsafeCheckpointError', 'install_safe_checkpoint_loading',
    'mmengine_safe_globals'
]
