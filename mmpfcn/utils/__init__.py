"""Utilities of mmpfcn. Importing this package installs the safe checkpoint
loader (see :mod:`mmpfcn.utils.checkpoint_safety`)."""
from .checkpoint_safety import (UnsafeCheckpointError,
                                install_safe_checkpoint_loading,
                                mmengine_safe_globals)

install_safe_checkpoint_loading()

__all__ = [
    'UnsafeCheckpointError', 'install_safe_checkpoint_loading',
    'mmengine_safe_globals'
]
