"""mmpfcn: Panoptic FCN as an MMDetection 3.x extension.

Importing the package registers every component into MMDetection's registries
(``default_scope='mmdet'``) and applies mmpfcn's patches to MMEngine and
torch (safe checkpoint loading, verified downloads, atomic writes), all
listed in :mod:`mmpfcn.utils.runtime_patches`, makes ``DetInferencer``
check its config as the tools do (:mod:`mmpfcn.apis.inferencer`) and, on a GPU
machine whose mmcv was built without CUDA kernels, routes mmcv's few operators
that the models use to PyTorch and torchvision
(:mod:`mmpfcn.models.layers.mmcv_cuda_fallbacks`).
"""
from .version import __version__
from . import datasets, engine, evaluation, models, visualization  # noqa: F401  (registers components)
from .utils import apply_runtime_patches

apply_runtime_patches()
from .apis import install_inferencer_config_check  # noqa: E402  (needs the registered models)
from .models.layers import install_mmcv_cuda_fallbacks  # noqa: E402

install_inferencer_config_check()
install_mmcv_cuda_fallbacks()

__all__ = ['__version__']
