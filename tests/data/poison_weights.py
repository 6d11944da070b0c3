"""Test-only hook that turns the model's losses into NaN.

Imported through ``custom_imports`` by
``tests/data/configs/tiny_panoptic_fcn_poison.py`` (tests/data on
``PYTHONPATH``).
"""
import math

import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper


@HOOKS.register_module()
class PoisonWeightsHook(Hook):
    """Before training iteration ``at_iter`` (1-based), set the first
    convolution's weights to NaN, so that every loss of that iteration is
    NaN."""

    def __init__(self, at_iter: int) -> None:
        self.at_iter = at_iter

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if runner.iter + 1 == self.at_iter:
            model = runner.model.module if is_model_wrapper(
                runner.model) else runner.model
            with torch.no_grad():
                model.backbone.conv1.weight.fill_(math.nan)
