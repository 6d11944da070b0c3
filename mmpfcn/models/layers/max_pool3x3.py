"""3x3 maximum filter (stride 1, same size) as separable maxima of neighbour pairs."""
import torch
from torch import Tensor


def _max3(x: Tensor, dim: int) -> Tensor:
    """Maximum over a window of three along ``dim`` (outside the tensor counts as ``-inf``)."""
    size = x.shape[dim]
    if size == 1:
        return x
    pairs = torch.maximum(x.narrow(dim, 0, size - 1), x.narrow(dim, 1, size - 1))
    out = torch.empty_like(x)
    out.narrow(dim, 0, 1).copy_(pairs.narrow(dim, 0, 1))
    out.narrow(dim, size - 1, 1).copy_(pairs.narrow(dim, size - 2, 1))
    torch.maximum(pairs.narrow(dim, 0, size - 2), pairs.narrow(dim, 1, size - 2),
                  out=out.narrow(dim, 1, size - 2))
    return out


def max_pool3x3(x: Tensor) -> Tensor:
    """``F.max_pool2d(x, 3, stride=1, padding=1)`` over the last two dims, exactly (a maximum does
    not round), and faster on CPU than the pooling kernel, which also computes indices; it also
    takes integer and bool-as-uint8 tensors."""
    return _max3(_max3(x, -2), -1)
