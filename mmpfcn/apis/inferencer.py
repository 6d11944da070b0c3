"""``DetInferencer`` with mmpfcn's config checks.

:func:`install_inferencer_config_check` makes ``DetInferencer`` run
:func:`~mmpfcn.apis.config_validation.validate_config` on the config it loaded
(a file, a model name's metafile config or a ``Config``) before it builds the
model, as ``tools/train.py`` and ``tools/test.py`` do. ``import mmpfcn``
installs it after :mod:`mmpfcn.utils.runtime_patches` (which cannot: the
checks need the model classes, and ``mmpfcn.utils`` sits below them).
"""
import functools
from typing import Optional

from mmdet.apis import DetInferencer
from mmengine.config import ConfigDict
from torch import nn

from .config_validation import validate_config


def install_inferencer_config_check() -> None:
    """Validate ``DetInferencer``'s config before it builds the model; a
    second call changes nothing."""
    build_model = DetInferencer._init_model
    if getattr(build_model, '_mmpfcn_config_check', False):
        return

    @functools.wraps(build_model)
    def init_model(self: DetInferencer,
                   cfg: ConfigDict,
                   weights: Optional[str],
                   device: str = 'cpu') -> nn.Module:
        validate_config(cfg)
        return build_model(self, cfg, weights, device)

    init_model._mmpfcn_config_check = True
    DetInferencer._init_model = init_model
