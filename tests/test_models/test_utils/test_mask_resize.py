"""Mask resizing's fast paths give bit-identical results to the plain computations they replace.

References are the straightforward forms: one bilinear resize of all maps followed by a threshold
or an argmax.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmpfcn.models.utils import masks_to_boxes, region_argmax, resize_probs, threshold_masks
from mmpfcn.models.utils.mask_resize import _resize_tiles, expand_pixels, first_argmax

STRIDE = 4
THR = 0.4


def blob_maps(num, height, width, seed):
    """Probability maps like a trained model's: compact blobs, some touching the border, one empty,
    one constant at the threshold, one of noise and, from four maps on, a plateau just above it."""
    gen = torch.Generator().manual_seed(seed)
    ys = torch.arange(height, dtype=torch.float)[:, None]
    xs = torch.arange(width, dtype=torch.float)[None]
    maps = []
    for _ in range(num):
        cy, cx = torch.rand(2, generator=gen) * torch.tensor([height, width])
        sy, sx = 0.5 + torch.rand(2, generator=gen) * torch.tensor([height, width]) / 4
        maps.append(torch.exp(-((ys - cy) / sy)**2 - ((xs - cx) / sx)**2))
    maps = torch.stack(maps)
    maps[0] = 0.01
    maps[1] = 0.4
    maps[2] = torch.rand(height, width, generator=gen)
    if num > 3:
        maps[3] = 0.0
        maps[3, height // 3:height // 2, width // 2:] = 0.401
    if num > 4:  # a step just above the threshold that ends on a tile border
        maps[4] = 0.0
        maps[4, :, :16] = 0.45
    return maps


def reference_masks(probs, img_shape, out_shape):
    return resize_probs(probs, STRIDE, img_shape, out_shape) > THR


def boxes_of(masks):
    boxes = []
    for mask in masks.numpy():
        ys, xs = np.nonzero(mask)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] if len(ys) else [0, 0, 0, 0])
    return torch.tensor(boxes, dtype=torch.float).reshape(-1, 4)


def test_first_argmax_and_pixel_expansion_equal_torch():
    x = torch.randint(0, 3, (4, 7, 5, 6)).float()  # many ties
    x[0, 3, 0, 0] = x[1, 2, 1, 1] = x[1, 5, 1, 1] = float('nan')  # argmax counts NaN as largest
    for dim in range(4):
        assert torch.equal(first_argmax(x, dim), x.argmax(dim))
    labels = torch.randint(0, 9, (2, 3, 5))
    assert torch.equal(expand_pixels(labels, 4), labels.repeat_interleave(4, 1).repeat_interleave(4, 2))


@pytest.mark.parametrize('threads', [1, 2])
@pytest.mark.parametrize('num', [3, 12])
@pytest.mark.parametrize('feat_shape,img_shape,out_shape', [
    ((40, 56), (157, 221), (157, 221)),  # the image itself, crops of each mask
    ((40, 56), (157, 221), (120, 169)),  # rescaled to a smaller original
    ((40, 56), (160, 224), (403, 565)),  # and a larger one
    ((8, 12), (30, 45), (30, 45)),  # small: resized all at once
    ((8, 12), (30, 45), (61, 90)),
])
def test_threshold_masks_equal_full_resize(feat_shape, img_shape, out_shape, num, threads):
    probs = blob_maps(num, *feat_shape, seed=num + threads)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        masks = threshold_masks(probs, THR, STRIDE, img_shape, out_shape)
        expected = reference_masks(probs, img_shape, out_shape)
    finally:
        torch.set_num_threads(previous)
    assert masks.dtype == torch.bool and masks.shape == (num, *out_shape)
    assert torch.equal(masks, expected)
    assert torch.equal(masks_to_boxes(masks), boxes_of(expected))
    assert not masks[0].any() and (num == 3 or masks[3:].any())


@pytest.mark.parametrize('img_shape,out_shape,resizes', [((157, 221), (157, 221), 1),
                                                      ((157, 221), (120, 169), 2)])
def test_off_cpu_all_maps_are_resized_at_once(img_shape, out_shape, resizes, monkeypatch):
    """On a GPU, masks and the stuff region come from one resize of all maps (the crops and tiles
    only save CPU time). PyTorch's meta device stands in for it: it has no data, so any crop or tile
    bookkeeping, which reads values, would fail. Shapes and dtypes are the CPU results'."""
    probs = blob_maps(6, 40, 56, seed=0)
    classes = torch.tensor([0, 2, 3, 1, 4, 5])
    calls = []

    def counted_interpolate(*args, **kwargs):
        calls.append(args[0].device.type)
        return interpolate(*args, **kwargs)

    interpolate = F.interpolate
    cpu_masks = threshold_masks(probs, THR, STRIDE, img_shape, out_shape)
    cpu_region = region_argmax(probs, classes, STRIDE, img_shape, out_shape)
    monkeypatch.setattr(F, 'interpolate', counted_interpolate)
    masks = threshold_masks(probs.to('meta'), THR, STRIDE, img_shape, out_shape)
    region = region_argmax(probs.to('meta'), classes.to('meta'), STRIDE, img_shape, out_shape)
    assert calls == ['meta'] * (2 * resizes)
    for result, expected in [(masks, cpu_masks), (region, cpu_region)]:
        assert result.is_meta and result.shape == expected.shape and result.dtype == expected.dtype


def test_masks_to_boxes_of_empty_and_full_masks():
    masks = torch.zeros(3, 5, 7, dtype=torch.bool)
    masks[1, 1:3, 2:6] = True
    masks[2] = True
    assert masks_to_boxes(masks).tolist() == [[0, 0, 0, 0], [2, 1, 6, 3], [0, 0, 7, 5]]
    assert masks_to_boxes(masks[:0]).shape == (0, 4)


@pytest.mark.parametrize('threads', [1, 2])
@pytest.mark.parametrize('num', [1, 3, 6])
@pytest.mark.parametrize('img_shape,out_shape', [((157, 221), (157, 221)), ((157, 221), (120, 169)),
                                                 ((30, 45), (61, 90))])
def test_region_argmax_equals_argmax_with_ties(img_shape, out_shape, num, threads):
    feat_shape = ((img_shape[0] + 31) // 32 * 8, (img_shape[1] + 31) // 32 * 8)
    probs = blob_maps(max(num, 3), *feat_shape, seed=num)[:num]
    if num > 2:
        probs[2] = probs[1]  # exact ties go to the lower index
    if num > 4:  # clear regions with a step on a tile border
        probs[3:5] = 0.01
        probs[3, :, :16], probs[4, :, :16] = 0.5, 0.45
        probs[4, :, 16:] = 0.9
    classes = torch.tensor([0, 2, 3, 1, 4, 5][:num])
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        region = region_argmax(probs, classes, STRIDE, img_shape, out_shape)
        expected = classes[resize_probs(probs, STRIDE, img_shape, out_shape).argmax(0)]
    finally:
        torch.set_num_threads(previous)
    assert region.dtype == torch.long and torch.equal(region, expected)


@pytest.mark.parametrize('threads', [1, 2])
@pytest.mark.parametrize('channels', [1, 3])
def test_resize_tiles_is_bit_identical_to_full_resize(channels, threads):
    """Raw upsampled values (no threshold to hide a rounding difference) of border, corner,
    partial and interior tiles, with groups of one and of three tiles."""
    height, width = 40, 56  # tiles: rows 0, 16, 24 (the last one ends at the border), cols 0..40
    maps = torch.rand(2, channels, height, width, generator=torch.Generator().manual_seed(channels))
    tiles = torch.tensor([[0, 0, 0], [0, 0, 3], [1, 2, 3], [1, 2, 0], [0, 1, 1], [1, 1, 1], [1, 1, 2],
                          [0, 2, 1]])
    out = torch.full((2, STRIDE * height, STRIDE * width), -1.0)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        _resize_tiles(maps, tiles, STRIDE, lambda up: up[:, -1], out)
        # Resizing all three maps at once would itself round differently on one thread.
        full = F.interpolate(maps[:, -1:], scale_factor=STRIDE, mode='bilinear', align_corners=False)[:, 0]
    finally:
        torch.set_num_threads(previous)
    written = out >= 0
    for index, row, col in tiles.tolist():
        y0, x0 = min(16 * row, height - 16), min(16 * col, width - 16)
        assert written[index, STRIDE * y0:STRIDE * (y0 + 16), STRIDE * x0:STRIDE * (x0 + 16)].all()
    assert written.sum() == (8 * 16 * 16 - 8 * 16 - 8 * 8) * STRIDE**2  # the last row overlaps
    assert torch.equal(out[written], full[written])
