"""mmpfcn: Panoptic FCN as an MMDetection 3.x extension.

Importing the package registers every component into MMDetection's registries
(``default_scope='mmdet'``) and applies mmpfcn's patches to MMEngine and
torch (safe checkpoint loading, verified downloads, atomic writes), all
listed in :mod:`mmpfcn.utils.runtime_patches`, and makes ``DetInferencer``
check its config as the tools do (:mod:`mmpfcn.apis.inferencer`).
"""
from .version import __version__
from . import datasets, engine, evaluation, models, visualization  # noqa: F401  (registers components)
from .utils import apply_runtime_patches

apply_runtime_patches()
from .apis import install_inferencer_config_check  # noqa: E402  (needs the registered models)

install_inferencer_config_check()

__all__ = ['__version__']
