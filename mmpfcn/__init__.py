"""mmpfcn: Panoptic FCN as an MMDetection 3.x extension.

Importing the package registers every component into MMDetection's registries
(``default_scope='mmdet'``) and installs the safe checkpoint loader.
"""
from .version import __version__
from . import utils  # noqa: F401  (safe checkpoint loading, applied on import)
from . import datasets, engine, evaluation, models, visualization  # noqa: F401  (registers components)

__all__ = ['__version__']
