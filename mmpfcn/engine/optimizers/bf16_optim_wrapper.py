"""Mixed-precision training in bfloat16, on CPU as well as on GPU."""
from contextlib import contextmanager
from typing import Iterator

import torch
from mmdet.registry import OPTIM_WRAPPERS
from mmengine.optim import OptimWrapper
from torch import nn


@OPTIM_WRAPPERS.register_module()
class BF16OptimWrapper(OptimWrapper):
    """``OptimWrapper`` that runs the forward under ``torch.autocast`` in bfloat16.

    MMEngine's ``AmpOptimWrapper`` needs CUDA (float16 with a loss scaler).
    bfloat16 has float32's exponent range, so no loss scaling is needed and the
    same wrapper serves CPUs with bf16 instructions (AVX512-BF16, AMX), where
    convolutions run about twice as fast as in float32. Parameters, gradients
    and optimizer states stay float32; autocast casts convolutions and matrix
    products only, and the losses of this project compute in float32.

    Args:
        device_type (str, optional): ``'cpu'`` or ``'cuda'``; by default the
            device of the model's first parameter.
        **kwargs: ``OptimWrapper`` arguments.
    """

    def __init__(self, device_type: str = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.device_type = device_type

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """Gradient accumulation context of ``OptimWrapper`` plus bf16 autocast."""
        device_type = self.device_type or next(model.parameters()).device.type
        with super().optim_context(model), torch.autocast(device_type, dtype=torch.bfloat16):
            yield
