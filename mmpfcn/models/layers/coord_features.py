"""Coordinate channels for coord-conv inputs."""
import torch
from torch import Tensor


def append_coordinates(feats: Tensor) -> Tensor:
    """Append two normalised coordinate channels after the feature channels.

    The authors' order is kept: first a channel varying along the height
    (``linspace(-1, 1, h)`` down the rows), then one varying along the width.
    Coordinates span the (padded) feature map, so checkpoints trained with the
    reference implementation see the same inputs.
    """
    n, _, h, w = feats.shape
    ys = torch.linspace(-1, 1, h, device=feats.device, dtype=feats.dtype)
    xs = torch.linspace(-1, 1, w, device=feats.device, dtype=feats.dtype)
    grid_y = ys.view(1, 1, h, 1).expand(n, 1, h, w)
    grid_x = xs.view(1, 1, 1, w).expand(n, 1, h, w)
    return torch.cat([feats, grid_y, grid_x], dim=1)
