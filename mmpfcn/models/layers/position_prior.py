"""A Gaussian prior around the position each thing kernel was taken at, on its mask logits."""
from typing import Tuple, Union

import torch
from torch import Tensor


def grid_centers(positions: Tensor, height: Union[int, Tensor], width: Union[int, Tensor],
                 sigma: float) -> Tensor:
    """``(...)`` flat positions on ``height x width`` grids -> ``(..., 3)``: the cell centre's
    x and y as fractions of the grid's width and height, and ``sigma`` cells as a fraction of
    its width. Fractions map every level onto the encoded feature of the same (padded) input."""
    cols = (positions % width).float()
    rows = torch.div(positions, width, rounding_mode='floor').float()
    width = torch.as_tensor(width, device=positions.device).float()
    height = torch.as_tensor(height, device=positions.device).float()
    return torch.stack([(cols + 0.5) / width, (rows + 0.5) / height,
                        (sigma / width).expand_as(cols)], -1)


def position_prior(centers: Tensor, size: Tuple[int, int]) -> Tensor:
    """Mask-logit bias ``-d^2 / (2 s^2)`` of every pixel of an ``(H, W)`` map.

    ``d`` is the pixel's distance to the centre and ``s`` the centre's sigma,
    both in pixels of the map, from ``(..., 3)`` ``centers``
    (:func:`grid_centers`). Returns ``(..., H*W)``. A kernel taken inside a
    small thing then needs no feature that tells it apart from a look-alike
    elsewhere in the image: the prior fades its mask with the distance.
    """
    height, width = size
    ys = torch.arange(height, device=centers.device, dtype=torch.float)
    xs = torch.arange(width, device=centers.device, dtype=torch.float)
    cx = centers[..., 0:1] * width - 0.5
    cy = centers[..., 1:2] * height - 0.5
    # A zero sigma (padding rows of the training kernels) fades the whole mask out, finitely.
    sigma = (centers[..., 2:3] * width).clamp(min=1e-6)
    dy = (ys - cy)[..., :, None]
    dx = (xs - cx)[..., None, :]
    prior = -(dy * dy + dx * dx) / (2 * sigma * sigma)[..., None]
    return prior.flatten(-2)
