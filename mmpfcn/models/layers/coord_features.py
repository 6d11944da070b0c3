"""Coordinate channels for coord-conv inputs."""
import torch
from torch import Tensor


def _span(size: int, like: Tensor) -> Tensor:
    """``linspace(-1, 1, size)``; in an ONNX export from ``arange``, since ONNX's form of
    ``linspace`` divides by zero for a single step (the 1x1 P7 of small inputs)."""
    if not torch.onnx.is_in_onnx_export():
        return torch.linspace(-1, 1, size, device=like.device, dtype=like.dtype)
    steps = torch.arange(size, device=like.device, dtype=like.dtype)
    return steps * (2 / torch.clamp(torch.as_tensor(size - 1, dtype=like.dtype), min=1)) - 1


def append_coordinates(feats: Tensor) -> Tensor:
    """Append two normalised coordinate channels after the feature channels.

    The authors' order is kept: first a channel varying along the height
    (``linspace(-1, 1, h)`` down the rows), then one varying along the width.
    Coordinates span the (padded) feature map, so checkpoints trained with the
    reference implementation see the same inputs.
    """
    n, _, h, w = feats.shape
    ys, xs = (_span(size, feats) for size in (h, w))
    grid_y = ys.view(1, 1, h, 1).expand(n, 1, h, w)
    grid_x = xs.view(1, 1, 1, w).expand(n, 1, h, w)
    return torch.cat([feats, grid_y, grid_x], dim=1)
