"""Resizing stride-4 mask probabilities to the image, exactly and fast on CPU.

The results equal resizing every map to full size (upsample by the stride,
crop the padding, resize to the output size) and thresholding or taking the
argmax there, which is how they are computed on a GPU. On CPU, where that
resize is the slowest step of inference, only the pixels the stride-4 maps do
not decide are resized: in tiles at the input size, around each mask's
window when rescaled. Bilinear resizing computes each output pixel from its
two-by-two neighbourhood with weights that depend only on its position, so a
crop with a margin gives bit-identical pixels; PyTorch's CPU kernel keeps to
that except where it switches to a vectorised implementation that rounds
differently (small outputs, exactly three maps on one thread), and those
cases take the plain path.
"""
from typing import Callable, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..layers import max_pool3x3

# PyTorch's CPU bilinear kernel switches to a differently rounding vectorised implementation
# when the output's height + width is at most this (ATen's
# ``upsample_bilinear2d_kernel_impl_float``).
VECTORIZED_RESIZE_MAX_SIZE_SUM = 128
# Maps resized per call: a few large operations rather than one per mask, as every operation
# has a fixed cost (a kernel launch, a parallel region that waits for all threads) that
# dominates a loop over masks when cores are shared.
CHUNK = 8
# Side of the square tiles (in stride-4 pixels) in which pixels that the stride-4 maps do not
# decide are resized exactly; a tile's crop then always resizes above the vectorised size.
TILE = 16
# A resized pixel lies between its stride-4 neighbours' values up to rounding; decisions taken
# from those values keep this margin, far above any rounding.
MARGIN = 1e-4


def chunks(start: int, stop: int, size: int = CHUNK) -> List[Tuple[int, int]]:
    """Consecutive ``[begin, end)`` ranges of at most ``size`` maps, none of exactly three on one
    thread (a count for which PyTorch's CPU resize rounds differently)."""
    bounds = list(range(start, stop, size)) + [stop]
    ranges = list(zip(bounds[:-1], bounds[1:]))
    if ranges and ranges[-1][1] - ranges[-1][0] == 3 and torch.get_num_threads() == 1:
        begin, end = ranges.pop()
        ranges += [(begin, begin + 2), (begin + 2, end)]
    return ranges


def masks_to_boxes(masks: Tensor) -> Tensor:
    """``(N, H, W)`` bool masks -> ``(N, 4)`` boxes ``x0, y0, x1, y1`` with ``x1``/``y1`` one past the
    last occupied column/row (all zeros for an empty mask), without a loop over masks."""
    occupied = masks.view(torch.uint8)  # max-reductions of bytes are much faster than any()
    cols, rows = occupied.amax(-2).bool(), occupied.amax(-1).bool()
    width, height = cols.shape[-1], rows.shape[-1]
    boxes = torch.stack([
        cols.int().argmax(-1), rows.int().argmax(-1),
        width - cols.flip(-1).int().argmax(-1), height - rows.flip(-1).int().argmax(-1)
    ], -1).float()
    return boxes * cols.any(-1, keepdim=True)


def expand_pixels(x: Tensor, stride: int) -> Tensor:
    """``(M, h, w)`` -> ``(M, stride * h, stride * w)``, each value repeated over its pixel block
    (widened first, then whole rows repeated: much faster than one strided copy)."""
    num, height, width = x.shape
    rows = x[..., None].expand(num, height, width, stride).reshape(num, height, 1, width * stride)
    return rows.expand(num, height, stride, width * stride).reshape(num, height * stride, -1)


def first_argmax(x: Tensor, dim: int) -> Tensor:
    """``x.argmax(dim)`` (the first maximum, NaN counting as the largest) from elementwise
    operations and max-reductions, which are much faster than ``argmax`` over a middle dim."""
    size = x.shape[dim]
    shape = [1] * x.dim()
    shape[dim] = size
    dtype = torch.uint8 if size < 256 else torch.int32
    rank = torch.arange(size, 0, -1, dtype=dtype, device=x.device).view(shape)  # first is highest
    top = x.amax(dim, keepdim=True)
    hits = x == top
    if top.isnan().any():
        hits |= x.isnan()
    return size - (hits.to(dtype) * rank).amax(dim).long()


def resize_probs(probs: Tensor, stride: int, img_shape: Sequence[int],
                 out_shape: Sequence[int]) -> Tensor:
    """``(M, h, w)`` stride-``stride`` maps upsampled, cropped to ``img_shape`` (the padding
    removed) and resized to ``out_shape``."""
    if not len(probs):
        return probs.new_zeros((0, *out_shape))
    probs = F.interpolate(probs[None], scale_factor=stride, mode='bilinear',
                          align_corners=False)[..., :img_shape[0], :img_shape[1]]
    if tuple(probs.shape[-2:]) != tuple(out_shape):
        probs = F.interpolate(probs, size=tuple(out_shape), mode='bilinear', align_corners=False)
    return probs[0]


def resize_whole(probs: Tensor, stride: int, img_shape: Sequence[int],
                 out_shape: Sequence[int]) -> bool:
    """Whether to resize all maps at once rather than in crops and tiles: always on a GPU (a few
    large kernels beat many small ones and host synchronisations), and on CPU wherever crops
    would not round exactly as the whole resize."""
    sizes = [stride * (probs.shape[-2] + probs.shape[-1])]
    if tuple(out_shape) != tuple(img_shape):
        sizes.append(out_shape[0] + out_shape[1])
    three_on_one_thread = len(probs) == 3 and torch.get_num_threads() == 1
    exact_crops = (stride % 2 == 0 and min(sizes) > VECTORIZED_RESIZE_MAX_SIZE_SUM
                   and not three_on_one_thread)
    return probs.device.type != 'cpu' or not exact_crops


def _single_step_tiles(feat_shape: Sequence[int], img_shape: Sequence[int],
                       out_shape: Sequence[int]) -> bool:
    """Whether results at the input size can be decided per stride-4 pixel and resized only in
    the tiles that stay undecided (the output is the image, and the map holds a tile)."""
    return tuple(out_shape) == tuple(img_shape) and min(feat_shape) >= TILE


def _resize_tiles(maps: Tensor, tiles: Tensor, stride: int, decide: Callable[[Tensor], Tensor],
                  out: Tensor) -> None:
    """Write ``decide`` of the exactly upsampled ``maps`` into ``out`` on the given tiles.

    ``maps`` are ``(M, C, h, w)``, ``tiles`` ``(n, 3)`` rows ``(map, tile row, tile column)`` of
    the ``TILE`` grid (a partial last tile is taken as the full tile that ends at the border),
    ``decide`` maps ``(n, C, t, t)`` upsampled tiles to ``(n, t, t)`` values, and ``out`` is the
    ``(M, s*h, s*w)`` output, written in place. Each tile is upsampled from a crop with one
    stride-4 pixel of context (none at the border, where the full resize clamps alike), so its
    pixels are bit-identical to resizing the whole map; tiles with the same crop shape are
    resized in one call.
    """
    size = TILE
    height, width = maps.shape[-2:]
    index, rows, cols = tiles.unbind(1)
    y0 = torch.clamp_max(rows * size, height - size)
    x0 = torch.clamp_max(cols * size, width - size)
    top, left = (y0 - 1).clamp(min=0), (x0 - 1).clamp(min=0)
    bottom, right = (y0 + size + 1).clamp(max=height), (x0 + size + 1).clamp(max=width)
    keys = torch.stack([y0 - top, bottom - top, x0 - left, right - left], 1)
    steps = torch.arange(size, device=maps.device)
    blocks = out.view(out.shape[0], height, stride, width, stride)
    for key in torch.unique(keys, dim=0).tolist():
        off_y, crop_h, off_x, crop_w = key
        group = torch.nonzero((keys == keys.new_tensor(key)).all(1), as_tuple=True)[0]
        windows = maps.unfold(2, crop_h, 1).unfold(3, crop_w, 1)  # (M, C, rows, cols, h', w')
        for begin, end in chunks(0, len(group), max(1, 256 // maps.shape[1])):
            sel = group[begin:end]
            crops = windows[index[sel], :, top[sel], left[sel]]
            if crops.shape[0] * crops.shape[1] == 3 and torch.get_num_threads() == 1:
                crops = torch.cat([crops, crops[:1]])  # not three maps on one thread
            up = F.interpolate(crops.flatten(0, 1)[None], scale_factor=stride, mode='bilinear',
                               align_corners=False)[0].unflatten(0, crops.shape[:2])[:len(sel)]
            up = up[..., stride * off_y:stride * (off_y + size),
                    stride * off_x:stride * (off_x + size)]
            values = decide(up).unflatten(1, (size, stride)).unflatten(3, (size, stride))
            blocks[index[sel, None, None], y0[sel, None, None] + steps[None, :, None], :,
                   x0[sel, None, None] + steps[None, None, :], :] = values.transpose(2, 3)


def _mask_windows(probs: Tensor, thr: float) -> List[Tuple[int, int, int, int]]:
    """Stride-4 box ``(x0, y0, x1, y1)`` of each map's pixels that may exceed ``thr`` (all zeros
    if none): a resized pixel lies between the values of its stride-4 neighbours, so everything
    more than a stride-4 pixel away from these boxes stays below the threshold."""
    near = probs > thr - MARGIN
    return [tuple(box) for box in masks_to_boxes(near).int().tolist()]


def _crop_upsample(probs: Tensor, window: Tuple[int, int, int, int], stride: int,
                   img_shape: Sequence[int]) -> Tuple[Tensor, int, int]:
    """Exactly upsampled pixels of one ``(h, w)`` map around a stride-4 window.

    Returns the upsampled block (empty for an empty window or one outside the
    image) and its top-left corner in the (cropped) input image. The block
    covers the window grown by one stride-4 pixel plus one pixel on each side,
    clipped to the image: every pixel that can exceed the threshold and the
    neighbours a further resize reads. It is cut from the upsampling of a crop
    with two more stride-4 pixels of context (grown further if needed to stay
    on the exactly rounding kernel).
    """
    height, width = probs.shape
    x0, y0, x1, y1 = window
    r0, r1 = max(stride * (y0 - 1) - 1, 0), min(stride * (y1 + 1) + 1, img_shape[0])
    c0, c1 = max(stride * (x0 - 1) - 1, 0), min(stride * (x1 + 1) + 1, img_shape[1])
    if y1 == 0 or r1 <= r0 or c1 <= c0:
        return probs.new_zeros((0, 0)), 0, 0
    top, bottom = max(y0 - 2, 0), min(y1 + 2, height)
    left, right = max(x0 - 2, 0), min(x1 + 2, width)
    while stride * (bottom - top + right - left) <= VECTORIZED_RESIZE_MAX_SIZE_SUM:
        top, bottom = max(top - 1, 0), min(bottom + 1, height)
        left, right = max(left - 1, 0), min(right + 1, width)
    up = F.interpolate(probs[None, None, top:bottom, left:right], scale_factor=stride,
                       mode='bilinear', align_corners=False)[0, 0]
    block = up[r0 - stride * top:r1 - stride * top, c0 - stride * left:c1 - stride * left]
    return block, r0, c0


def threshold_masks(probs: Tensor, thr: float, stride: int, img_shape: Sequence[int],
                    out_shape: Sequence[int]) -> Tensor:
    """``(N, h, w)`` stride-4 probabilities -> ``(N, *out_shape)`` bool masks ``> thr``.

    At the input size, a stride-4 pixel whose neighbours are all clearly above
    (below) the threshold gives true (false) for all pixels it covers, and only
    tiles with other pixels are resized. Rescaled, masks whose pixels near the
    threshold cover most of the map are resized a few at a time, the others
    only around those pixels (left at zero elsewhere before the resize to
    ``out_shape``).
    """
    num = len(probs)
    if not num or resize_whole(probs, stride, img_shape, out_shape):
        return resize_probs(probs, stride, img_shape, out_shape) > thr
    height, width = probs.shape[-2:]
    if _single_step_tiles((height, width), img_shape, out_shape):
        above = max_pool3x3((probs <= thr + MARGIN).view(torch.uint8)) == 0
        below = max_pool3x3((probs >= thr - MARGIN).view(torch.uint8)) == 0
        undecided = (~(above | below)).view(torch.uint8)
        tiles = F.max_pool2d(undecided[:, None].float(), TILE, ceil_mode=True)[:, 0]
        masks = expand_pixels(above, stride)
        _resize_tiles(probs[:, None], torch.nonzero(tiles), stride, lambda up: up[:, 0] > thr,
                      masks)
        return masks[:, :img_shape[0], :img_shape[1]].contiguous()
    rescale = tuple(out_shape) != tuple(img_shape)
    windows = _mask_windows(probs, thr) if rescale else [(0, 0, width, height)] * num
    dense = [(x1 - x0 + 4) * (y1 - y0 + 4) > height * width / 2 for x0, y0, x1, y1 in windows]
    runs = [0] + [i for i in range(1, num) if dense[i] != dense[i - 1]] + [num]
    masks = probs.new_empty((num, *out_shape), dtype=torch.bool)
    for begin, end in (chunk for run in zip(runs[:-1], runs[1:]) for chunk in chunks(*run)):
        if dense[begin]:
            resized = resize_probs(probs[begin:end], stride, img_shape, out_shape)
        else:
            canvas = probs.new_zeros((end - begin, *img_shape))
            for i in range(begin, end):
                block, r0, c0 = _crop_upsample(probs[i], windows[i], stride, img_shape)
                canvas[i - begin, r0:r0 + block.shape[0], c0:c0 + block.shape[1]] = block
            resized = F.interpolate(canvas[None], size=tuple(out_shape), mode='bilinear',
                                    align_corners=False)[0]
        torch.gt(resized, thr, out=masks[begin:end])
    return masks


def region_argmax(probs: Tensor, classes: Tensor, stride: int, img_shape: Sequence[int],
                  out_shape: Sequence[int]) -> Tensor:
    """Entry of ``classes`` whose resized ``(K, h, w)`` map is highest at each output pixel.

    Equal to the argmax over all resized maps (ties to the lower index). At the
    input size, a stride-4 pixel whose neighbours all have the same highest
    map, clearly ahead of the second, gives that map for all pixels it covers,
    and only tiles with other pixels are resized; rescaled, the maps are
    resized a few at a time and folded into a running maximum (no
    ``K x H x W`` buffer, no slow reduction over it).
    """
    if not len(probs):
        return probs.new_zeros(tuple(out_shape), dtype=torch.long)
    if resize_whole(probs, stride, img_shape, out_shape):
        return classes[resize_probs(probs, stride, img_shape, out_shape).argmax(0)]
    if _single_step_tiles(probs.shape[-2:], img_shape, out_shape):
        if len(probs) == 1:
            return classes[0].expand(*out_shape).clone()
        top2 = probs.topk(2, dim=0)
        first = top2.indices[0]
        unclear = (top2.values[0] - top2.values[1] <= MARGIN).view(torch.uint8)
        uniform = (max_pool3x3(first) == -max_pool3x3(-first)) & (max_pool3x3(unclear) == 0)
        tiles = F.max_pool2d((~uniform)[None, None].float(), TILE, ceil_mode=True)[0]
        region = expand_pixels(classes[first][None], stride)
        _resize_tiles(probs[None], torch.nonzero(tiles), stride,
                      lambda up: classes[first_argmax(up, 1)], region)
        return region[0, :img_shape[0], :img_shape[1]].contiguous()
    best = index = None
    for begin, end in chunks(0, len(probs)):
        value, chunk_index = resize_probs(probs[begin:end], stride, img_shape, out_shape).max(0)
        if best is None:
            best, index = value, chunk_index
            continue
        higher = value > best  # ties stay with the earlier map
        torch.maximum(best, value, out=best)
        torch.where(higher, chunk_index.add_(begin), index, out=index)
    return classes[index]
