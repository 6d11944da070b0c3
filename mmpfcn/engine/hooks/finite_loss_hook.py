"""Stop training at the first NaN or infinite loss."""
import math
from typing import Optional

import torch
from mmdet.registry import HOOKS
from mmengine.dist import all_reduce
from mmengine.hooks import Hook


class NonFiniteLossError(RuntimeError):
    """A training loss became NaN or infinite."""


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Raise :class:`NonFiniteLossError` when a loss is NaN or infinite.

    Checks every loss of every iteration (on all ranks: one tiny
    ``all_reduce``, so that all ranks stop together). The error names the
    iteration, the offending losses and the last checkpoint saved before it.
    Its priority runs it before ``CheckpointHook``, so the parameters updated
    by a non-finite loss are never saved.
    """

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        losses = {
            name: torch.as_tensor(value).detach().item()
            for name, value in (outputs or {}).items() if 'loss' in name
        }
        bad = {
            name: value
            for name, value in losses.items() if not math.isfinite(value)
        }
        flag = torch.tensor(float(bool(bad)))
        all_reduce(flag, op='max')
        if not flag.item():
            return
        iteration = runner.iter + 1
        found = (', '.join(f'{name}={value}' for name, value in bad.items())
                 if bad else 'a loss on another rank')
        last_ckpt = runner.message_hub.get_info('last_ckpt')
        advice = (f'The last good checkpoint is {last_ckpt}; resume from it '
                  f'with --resume {last_ckpt} once the cause (learning rate, '
                  'data) is fixed.' if last_ckpt else
                  'No checkpoint was saved before it.')
        raise NonFiniteLossError(
            f'Non-finite loss at iteration {iteration} ({found}): training '
            f'stopped. {advice}')
