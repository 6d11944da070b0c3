"""Test-only hook recording what each distributed rank trained on and with.

Imported through ``custom_imports`` by
``tests/data/configs/tiny_panoptic_fcn_dist.py`` (tests/data on
``PYTHONPATH``).
"""
import os.path as osp

import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper


@HOOKS.register_module()
class RankProbeHook(Hook):
    """After every training iteration, record this rank's image ids and
    model parameters; after training, save them to
    ``<out_dir>/rank<rank>.pt`` (``out_dir`` outside the work dirs)."""

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir
        self.img_ids, self.params = [], []

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self.img_ids.append(
            [sample.img_id for sample in data_batch['data_samples']])
        self.params.append({
            name: param.detach().clone()
            for name, param in model.named_parameters()
        })

    def after_train(self, runner) -> None:
        torch.save(
            dict(img_ids=self.img_ids, params=self.params),
            osp.join(self.out_dir, f'rank{runner.rank}.pt'))
