"""max_pool3x3 equals F.max_pool2d(x, 3, stride=1, padding=1) exactly, ties and edges included."""
import torch
import torch.nn.functional as F

from mmpfcn.models.layers import max_pool3x3


def test_max_pool3x3_equals_max_pool():
    gen = torch.Generator().manual_seed(0)
    for shape in [(2, 3, 17, 23), (1, 2, 1, 9), (1, 1, 5, 1), (1, 4, 1, 1)]:
        x = torch.randint(0, 4, shape, generator=gen).float()  # many ties
        assert torch.equal(max_pool3x3(x), F.max_pool2d(x, 3, stride=1, padding=1))


def test_max_pool3x3_takes_bytes():
    x = torch.zeros(1, 5, 5, dtype=torch.uint8)
    x[0, 2, 2] = 1
    out = max_pool3x3(x)
    assert out.dtype == torch.uint8 and out.sum() == 9 and out[0, 1:4, 1:4].all()
