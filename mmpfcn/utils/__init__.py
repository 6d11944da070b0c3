"""Utilities of mmpfcn: the bottom layer, importing no other mmpfcn
subpackage. Its modules patch nothing when imported;
:func:`~mmpfcn.utils.runtime_patches.apply_runtime_patches`, called by
``import mmpfcn``, lists and applies every patch."""
from .atomic_local_backend import (AtomicLocalBackend,
                                   install_atomic_local_backend)
from .atomic_write import atomic_write
from .checkpoint_download import (CheckpointDownloadError,
                                  install_url_checkpoint_loading)
from .checkpoint_safety import (UnreadableCheckpointError, UnsafeCheckpointError,
                                install_safe_checkpoint_loading,
                                mmengine_safe_globals)
from .model_index import (ModelEntry, UnknownModelError, find_model,
                          install_metafile_model_lookup)
from .package_checkpoint import install_package_checkpoint_loading
from .panoptic_annotations import PanopticAnnotations
from .runtime_patches import apply_runtime_patches

__all__ = [
    'AtomicLocalBackend', 'CheckpointDownloadError', 'ModelEntry',
    'PanopticAnnotations', 'UnknownModelError', 'UnreadableCheckpointError',
    'UnsafeCheckpointError', 'apply_runtime_patches',
    'atomic_write', 'find_model', 'install_atomic_local_backend',
    'install_metafile_model_lookup', 'install_package_checkpoint_loading',
    'install_safe_checkpoint_loading', 'install_url_checkpoint_loading',
    'mmengine_safe_globals'
]
