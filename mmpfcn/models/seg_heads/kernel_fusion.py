"""Inference of Panoptic FCN: candidates, kernel fusion, masks and panoptic combination."""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from mmengine.structures import InstanceData, PixelData
from torch import Tensor

from ...utils.memory import available_memory

# PyTorch's CPU bilinear kernel switches to a differently rounding vectorised
# implementation when the output's height + width is at most this (ATen's
# ``upsample_bilinear2d_kernel_impl_float``); exact crops are only taken where
# every resize involved stays above it (see ``KernelFusion._exact_crops``).
_VECTORIZED_RESIZE_MAX_SIZE_SUM = 128
# Maps resized (and rows scored) per call: a few large operations rather than one per mask, as
# every operation has a fixed cost (a kernel launch, a parallel region that waits for all threads)
# that dominates a loop over masks when cores are shared.
_CHUNK = 8
# Side of the square tiles (in stride-4 pixels) in which pixels that the stride-4 maps do not
# decide are resized exactly; a tile's crop then always resizes above the vectorised size.
_TILE = 16
# A resized pixel lies between its stride-4 neighbours' values up to rounding; decisions taken
# from those values keep this margin, far above any rounding.
_MARGIN = 1e-4


def _chunks(start: int, stop: int, size: int = _CHUNK) -> List[Tuple[int, int]]:
    """Consecutive ``[begin, end)`` ranges of at most ``size`` maps, none of exactly three on one
    thread (a count for which PyTorch's CPU resize rounds differently, see ``_exact_crops``)."""
    bounds = list(range(start, stop, size)) + [stop]
    ranges = list(zip(bounds[:-1], bounds[1:]))
    if ranges and ranges[-1][1] - ranges[-1][0] == 3 and torch.get_num_threads() == 1:
        begin, end = ranges.pop()
        ranges += [(begin, begin + 2), (begin + 2, end)]
    return ranges


def _count(mask: Tensor) -> int:
    """Number of true pixels of a bool tensor (summing bytes avoids a conversion to int64)."""
    return int(mask.view(torch.uint8).sum(dtype=torch.int32))


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


def _expand_pixels(x: Tensor, stride: int) -> Tensor:
    """``(M, h, w)`` -> ``(M, stride * h, stride * w)``, each value repeated over its pixel block
    (widened first, then whole rows repeated: much faster than one strided copy)."""
    num, height, width = x.shape
    rows = x[..., None].expand(num, height, width, stride).reshape(num, height, 1, width * stride)
    return rows.expand(num, height, stride, width * stride).reshape(num, height * stride, -1)


def _first_argmax(x: Tensor, dim: int) -> Tensor:
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


def _max3x3(x: Tensor) -> Tensor:
    """``F.max_pool2d(x, 3, stride=1, padding=1)`` as separable maxima of neighbour pairs (exactly
    equal, since a maximum does not round, and faster on CPU than the pooling kernel, which also
    computes indices)."""
    return _max3(_max3(x, -2), -1)


def _check_unit_interval(**values: float) -> None:
    for name, value in values.items():
        if not 0.0 <= value <= 1.0:
            raise ValueError(f'KernelFusion: {name} must be in [0, 1], got {value}')


@MODELS.register_module()
class KernelFusion(BaseModule):
    """Turn per-level head outputs into instances, semantic and panoptic results.

    All images of a batch are processed together up to the stride-4 masks
    (candidates are padded per image and carried with validity masks); only
    the final resizing to each image's own size runs per image.

    Args:
        num_things_classes (int): Thing classes (T).
        num_stuff_classes (int): Stuff classes (S).
        center_pool_sizes (Sequence[int]): Average-pool size per level for
            centre smoothing, ``(c + avgpool(c)) / 2``.
        max_per_img (int): TOP_NUM: half of it is the per-level candidate
            cap and all of it the cap on final instances.
        thing_score_thr (float): Centre score threshold of thing candidates.
        stuff_score_thr (float): Region score threshold of stuff candidates.
        similarity_thr (float): Cosine similarity above which same-class
            thing kernels are fused.
        class_specific (bool): Fuse only kernels of the same class.
        mask_thr (float): Mask probability threshold.
        instance_score_thr (float): Minimum re-scored instance score.
        panoptic_instance_score_thr (float): Minimum score of an instance
            placed in the panoptic map.
        overlap_thr (float): An instance overlapping earlier ones by more
            than this fraction of its area is dropped.
        stuff_area_limit (int): Minimum pixels of a stuff segment.
        common_stride (int): Stride of the encoded feature.
        region_prior_levels (int): How many of the finest region maps
            (probabilities, averaged and resized to the encoded feature)
            multiply the stuff mask probabilities before each pixel takes its
            region class: the region maps classify with the position head's
            context, the masks with the encoded feature's. 0 (the paper)
            decides by the masks alone.
    """

    # Label of unassigned pixels in ``pred_sem_seg`` (MMDet's ignore index).
    semantic_void = 255

    def __init__(self,
                 num_things_classes: int = 80,
                 num_stuff_classes: int = 53,
                 center_pool_sizes: Sequence[int] = (3, 3, 3, 5, 5),
                 max_per_img: int = 100,
                 thing_score_thr: float = 0.05,
                 stuff_score_thr: float = 0.05,
                 similarity_thr: float = 0.9,
                 class_specific: bool = True,
                 mask_thr: float = 0.4,
                 instance_score_thr: float = 0.05,
                 panoptic_instance_score_thr: float = 0.2,
                 overlap_thr: float = 0.5,
                 stuff_area_limit: int = 4096,
                 common_stride: int = 4,
                 region_prior_levels: int = 0,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        _check_unit_interval(
            thing_score_thr=thing_score_thr, stuff_score_thr=stuff_score_thr,
            mask_thr=mask_thr, instance_score_thr=instance_score_thr,
            panoptic_instance_score_thr=panoptic_instance_score_thr, overlap_thr=overlap_thr)
        if not -1.0 <= similarity_thr <= 1.0:
            raise ValueError(f'KernelFusion: similarity_thr must be in [-1, 1], got {similarity_thr}')
        if region_prior_levels < 0:
            raise ValueError(
                f'KernelFusion: region_prior_levels must be >= 0, got {region_prior_levels}')
        self.num_things_classes = num_things_classes
        self.num_stuff_classes = num_stuff_classes
        self.num_classes = num_things_classes + num_stuff_classes
        self.center_pool_sizes = tuple(center_pool_sizes)
        self.max_per_img = max_per_img
        self.thing_score_thr = thing_score_thr
        self.stuff_score_thr = stuff_score_thr
        self.similarity_thr = similarity_thr
        self.class_specific = class_specific
        self.mask_thr = mask_thr
        self.instance_score_thr = instance_score_thr
        self.panoptic_instance_score_thr = panoptic_instance_score_thr
        self.overlap_thr = overlap_thr
        self.stuff_area_limit = stuff_area_limit
        self.common_stride = common_stride
        self.region_prior_levels = region_prior_levels

    def thing_candidates(self, center_logits: List[Tensor],
                         kernel_feats: List[Tensor]) -> Dict[str, Tensor]:
        """Centre peaks of all levels, sorted by score per image.

        Returns ``scores``, ``labels``, ``valid`` ``(B, N)``, ``kernels``
        ``(B, N, C)`` and, for inspection, ``levels`` and flat ``positions``.
        """
        if len(center_logits) != len(self.center_pool_sizes):
            raise ValueError(f'KernelFusion: {len(self.center_pool_sizes)} center_pool_sizes '
                             f'for {len(center_logits)} levels')
        scores, labels, kernels, levels, positions = [], [], [], [], []
        for level, (logits, feats, pool) in enumerate(
                zip(center_logits, kernel_feats, self.center_pool_sizes)):
            num_imgs, _, h, w = logits.shape
            heat = logits.sigmoid()
            heat = (heat + F.avg_pool2d(heat, pool, stride=1, padding=(pool - 1) // 2)) / 2
            heat = heat * (_max3x3(heat) == heat)
            top_num = min(h * w, self.max_per_img // 2)
            score, index = heat.flatten(1).topk(top_num, dim=1)
            pos = index % (h * w)
            scores.append(score)
            labels.append(torch.div(index, h * w, rounding_mode='floor'))
            positions.append(pos)
            levels.append(torch.full_like(pos, level))
            kernels.append(torch.gather(feats.flatten(2), 2, pos[:, None].expand(-1, feats.shape[1], -1)))
        scores = torch.cat(scores, 1)
        valid = scores > self.thing_score_thr
        order = torch.argsort(torch.where(valid, scores, scores.new_tensor(-1.0)), dim=1, descending=True)
        kernels = torch.cat(kernels, 2).transpose(1, 2)
        return dict(
            scores=scores.gather(1, order),
            labels=torch.cat(labels, 1).gather(1, order),
            valid=valid.gather(1, order),
            levels=torch.cat(levels, 1).gather(1, order),
            positions=torch.cat(positions, 1).gather(1, order),
            kernels=kernels.gather(1, order[..., None].expand(-1, -1, kernels.shape[-1])))

    def stuff_candidates(self, region_logits: List[Tensor],
                         kernel_feats: List[Tensor]) -> Dict[str, Tensor]:
        """Per level and region class: mean probability over its argmax area and kernel.

        Returns ``scores``, ``valid`` ``(B, L, 1+S)`` and ``kernels``
        ``(B, L, 1+S, C)``: the kernel-head feature summed over the class's
        argmax positions and divided by the level area, as the authors do.
        """
        scores, valid, kernels = [], [], []
        for logits, feats in zip(region_logits, kernel_feats):
            prob = logits.sigmoid()
            onehot = F.one_hot(prob.argmax(1), prob.shape[1]).permute(0, 3, 1, 2).to(prob.dtype)
            count = onehot.sum((2, 3))
            score = (prob * onehot).sum((2, 3)) / count.clamp(min=1)
            scores.append(score)
            valid.append((count > 0) & (score > self.stuff_score_thr))
            area = feats.shape[-2] * feats.shape[-1]
            kernels.append(torch.einsum('bshw,bchw->bsc', onehot, feats) / area)
        return dict(scores=torch.stack(scores, 1), valid=torch.stack(valid, 1),
                    kernels=torch.stack(kernels, 1))

    def fuse_thing_kernels(self, kernels: Tensor, labels: Tensor, scores: Tensor,
                           valid: Tensor) -> Dict[str, Tensor]:
        """Average same-class kernels with cosine similarity >= ``similarity_thr``.

        Candidates are in descending score order. ``A[i, j]`` links ``i <= j``;
        ``j`` survives iff no earlier candidate links to it, and each survivor
        ``i`` averages every ``j`` whose first link is ``i``. Class and score
        are those of the survivor. Output keeps the order of the survivors.
        """
        normed = kernels / kernels.norm(dim=-1, keepdim=True).clamp(min=1e-8)
        links = torch.bmm(normed, normed.transpose(1, 2)) >= self.similarity_thr
        links = links.triu() & valid[:, :, None] & valid[:, None, :]
        if self.class_specific:
            links &= labels[:, :, None] == labels[:, None, :]
        first = torch.cumsum(links.int(), dim=1) < 2
        keep = first.diagonal(dim1=1, dim2=2) & valid
        members = (links & first & keep[:, :, None]).to(kernels.dtype)
        fused = torch.bmm(members, kernels) / members.sum(-1, keepdim=True).clamp(min=1)
        order = torch.argsort((~keep).int(), dim=1, stable=True)
        return dict(
            kernels=fused.gather(1, order[..., None].expand(-1, -1, fused.shape[-1])),
            labels=labels.gather(1, order),
            scores=scores.gather(1, order),
            valid=keep.gather(1, order))

    @staticmethod
    def fuse_stuff_kernels(kernels: Tensor, scores: Tensor, valid: Tensor) -> Dict[str, Tensor]:
        """Average each region class's embedded kernels and scores over the levels where it was kept."""
        weight = valid.to(kernels.dtype)
        count = weight.sum(1)
        return dict(
            kernels=(kernels * weight[..., None]).sum(1) / count.clamp(min=1)[..., None],
            scores=(scores * weight).sum(1) / count.clamp(min=1),
            valid=count > 0)

    def predict(self, center_logits: List[Tensor], region_logits: List[Tensor],
                kernel_feats: List[Tensor], encode_feat: Tensor,
                embed_things: Callable[[Tensor], Tensor], embed_stuff: Callable[[Tensor], Tensor],
                batch_img_metas: List[dict],
                rescale: bool = True) -> List[dict]:
        """Panoptic, instance and semantic results of each image.

        Args:
            center_logits, region_logits, kernel_feats (list[Tensor]): Head
                outputs per level.
            encode_feat (Tensor): ``(B, Ce, H/4, W/4)`` encoded feature.
            embed_things, embed_stuff (Callable): The head's kernel embeddings.
            batch_img_metas (list[dict]): ``img_shape``, ``ori_shape``.
            rescale (bool): Return results at ``ori_shape`` (else ``img_shape``).

        Returns:
            list[dict]: ``pan_results`` (PixelData), ``ins_results``
            (InstanceData), ``sem_results`` (PixelData) per image.
        """
        things = self.thing_candidates(center_logits, kernel_feats)
        things['kernels'] = embed_things(things['kernels'])
        things = self.fuse_thing_kernels(things['kernels'], things['labels'], things['scores'],
                                         things['valid'])
        stuff = self.stuff_candidates(region_logits, kernel_feats)
        stuff['kernels'] = embed_stuff(stuff['kernels'])
        stuff = self.fuse_stuff_kernels(stuff['kernels'], stuff['scores'], stuff['valid'])
        probs = self.mask_probabilities(things, stuff, encode_feat)
        if self.region_prior_levels:
            probs['stuff_probs'].mul_(self.region_prior(region_logits, encode_feat.shape[-2:]))

        feat_h, feat_w = encode_feat.shape[-2:]
        # One host synchronisation for the sizes of every image's results.
        counts = torch.stack([probs['num_instances'], stuff['valid'].sum(1)], 1).tolist()
        results = []
        for i, (meta, (num_inst, num_stuff)) in enumerate(zip(batch_img_metas, counts)):
            order = probs['order'][i, :num_inst]
            inst_probs = probs['thing_probs'][i].index_select(0, order).reshape(-1, feat_h, feat_w)
            stuff_classes = torch.nonzero(stuff['valid'][i], as_tuple=True)[0]
            stuff_probs = probs['stuff_probs'][i].index_select(0, stuff_classes)
            img_h, img_w = meta['img_shape'][:2]
            out_shape = tuple(meta['ori_shape'][:2]) if rescale else (img_h, img_w)
            self._check_memory(num_inst + num_stuff, (img_h, img_w), out_shape, inst_probs.device)
            inst_masks, boxes = self.instance_masks(inst_probs, (img_h, img_w), out_shape)
            region = self.stuff_region(stuff_probs.reshape(-1, feat_h, feat_w), stuff_classes,
                                       (img_h, img_w), out_shape)
            results.append(
                self.combine(inst_masks, probs['labels'][i, :num_inst], probs['scores'][i, :num_inst],
                             region, boxes))
        return results

    def region_prior(self, region_logits: List[Tensor], size: Sequence[int]) -> Tensor:
        """Mean probability of the ``region_prior_levels`` finest region maps,
        bilinearly resized to ``size``, ``(B, 1+S, H*W)``."""
        if self.region_prior_levels > len(region_logits):
            raise ValueError(
                f'KernelFusion: region_prior_levels is {self.region_prior_levels}, but the head '
                f'gives {len(region_logits)} region maps')
        probs = [F.interpolate(logits.float().sigmoid(), size=tuple(size), mode='bilinear',
                               align_corners=False)
                 for logits in region_logits[:self.region_prior_levels]]
        return (sum(probs) / len(probs)).flatten(2)

    def mask_probabilities(self, things: Dict[str, Tensor], stuff: Dict[str, Tensor],
                           encode_feat: Tensor) -> Dict[str, Tensor]:
        """Stride-4 mask probabilities of the fused kernels and the re-scored instance order.

        Masks are the sigmoid of the kernels times the encoded feature; an
        instance's score is its centre score times the mean probability
        inside its mask (> ``mask_thr``), computed only for the leading rows
        that hold a surviving kernel in some image (survivors come first), in
        blocks of rows. Returns ``thing_probs``
        ``(B, N, HW)``, ``order`` ``(B, max_per_img)`` (indices into them by
        descending score), the sorted ``scores`` and ``labels``,
        ``num_instances`` (how many reach ``instance_score_thr``, per image)
        and ``stuff_probs`` ``(B, 1+S, HW)``.
        """
        encode = encode_feat.flatten(2)
        # Whole products and sigmoids, in place: the rounding of a matmul may depend on its number
        # of rows, and a vectorised sigmoid's on where the array ends.
        thing_probs = torch.bmm(things['kernels'], encode).sigmoid_()
        stuff_probs = torch.bmm(stuff['kernels'], encode).sigmoid_()
        num_imgs, num_kernels = things['scores'].shape
        num_valid = int(things['valid'].sum(1).max()) if things['valid'].numel() else 0
        mask_scores = [thing_probs.new_full((num_imgs, num_kernels - num_valid), -1.0)]
        for start in range(0, num_valid, 8 * _CHUNK):
            probs = thing_probs[:, start:min(start + 8 * _CHUNK, num_valid)]
            masks = probs > self.mask_thr
            inside = torch.where(masks, probs, probs.new_zeros(())).sum(-1)
            area = masks.view(torch.uint8).sum(-1, dtype=torch.int32)
            mask_scores.insert(-1, inside / (area + 1e-6))
        mask_scores = torch.cat(mask_scores, 1)
        inst_scores = torch.where(things['valid'], things['scores'] * mask_scores,
                                  thing_probs.new_tensor(-1.0))
        order = torch.argsort(inst_scores, dim=1, descending=True)[:, :self.max_per_img]
        scores = inst_scores.gather(1, order)
        return dict(
            thing_probs=thing_probs,
            order=order,
            scores=scores,
            labels=things['labels'].gather(1, order),
            num_instances=(scores >= self.instance_score_thr).sum(1),
            stuff_probs=stuff_probs)

    @staticmethod
    def _check_memory(num_masks: int, img_shape: Sequence[int], out_shape: Sequence[int],
                      device: torch.device) -> None:
        """Refuse with a clear message to build full-size masks that do not fit in memory.

        Counts, per mask, a float probability and a bool mask per output
        pixel and a float per input pixel: the peak of resizing all masks at
        once, an upper bound of the mask-by-mask resizing used where exact.
        """
        needed = num_masks * (out_shape[0] * out_shape[1] * 5 + img_shape[0] * img_shape[1] * 4)
        available = available_memory(device)
        if needed > available:
            raise MemoryError(
                f'KernelFusion: {num_masks} masks of {out_shape[1]}x{out_shape[0]} pixels need '
                f'{needed / 2**30:.1f} GiB but {device} has {available / 2**30:.1f} GiB available; '
                'lower kernel_fusion.max_per_img, raise kernel_fusion.instance_score_thr, or '
                'predict with rescale=False (masks at the network input size)')

    def _resize(self, probs: Tensor, img_shape: Sequence[int], out_shape: Sequence[int]) -> Tensor:
        """Upsample stride-4 probabilities, crop the padding and resize to ``out_shape``."""
        if not len(probs):
            return probs.new_zeros((0, *out_shape))
        probs = F.interpolate(probs[None], scale_factor=self.common_stride, mode='bilinear',
                              align_corners=False)[..., :img_shape[0], :img_shape[1]]
        if tuple(probs.shape[-2:]) != tuple(out_shape):
            probs = F.interpolate(probs, size=tuple(out_shape), mode='bilinear', align_corners=False)
        return probs[0]

    def _resize_whole(self, probs: Tensor, img_shape: Sequence[int],
                      out_shape: Sequence[int]) -> bool:
        """Whether to resize all maps at once rather than in crops and tiles.

        Crops and tiles save CPU time, where resizing every map to full size is the slowest step
        of inference. On a GPU that resize is a few large kernels, cheaper than the crops' many
        small ones and host synchronisations. On CPU, crops are taken only where they round
        exactly as the whole resize (:meth:`_exact_crops`).
        """
        return probs.device.type != 'cpu' or not self._exact_crops(
            len(probs), probs.shape[-2:], img_shape, out_shape)

    def _exact_crops(self, num_maps: int, feat_shape: Sequence[int], img_shape: Sequence[int],
                     out_shape: Sequence[int]) -> bool:
        """Whether resizing maps in groups, and crops of them, rounds exactly as resizing all at once.

        Bilinear resizing computes each output pixel from its two-by-two
        neighbourhood with weights that depend only on its position, so a
        crop with a margin gives bit-identical pixels. PyTorch's CPU kernel
        keeps to that except where it switches to a vectorised
        implementation that rounds differently: small outputs, and exactly
        three maps on one thread. Those cases (cheap ones) take the plain path.
        """
        stride = self.common_stride
        sizes = [stride * (feat_shape[0] + feat_shape[1])]
        if tuple(out_shape) != tuple(img_shape):
            sizes.append(out_shape[0] + out_shape[1])
        three_on_one_thread = num_maps == 3 and torch.get_num_threads() == 1
        return (stride % 2 == 0 and min(sizes) > _VECTORIZED_RESIZE_MAX_SIZE_SUM
                and not three_on_one_thread)

    def _mask_windows(self, probs: Tensor) -> List[Tuple[int, int, int, int]]:
        """Stride-4 box ``(x0, y0, x1, y1)`` of each map's pixels that may exceed ``mask_thr`` (all
        zeros if none): a resized pixel lies between the values of its stride-4 neighbours, so
        everything more than a stride-4 pixel away from these boxes stays below the threshold."""
        near = probs > self.mask_thr - _MARGIN
        return [tuple(box) for box in masks_to_boxes(near).int().tolist()]

    def _crop_upsample(self, probs: Tensor, window: Tuple[int, int, int, int],
                       img_shape: Sequence[int]) -> Tuple[Tensor, int, int]:
        """Exactly upsampled pixels of one ``(h, w)`` map around a stride-4 window.

        Returns the upsampled block (empty for an empty window or one outside
        the image) and its top-left corner in the (cropped) input image. The
        block covers the window grown by one stride-4 pixel plus one pixel on
        each side, clipped to the image: every pixel that can exceed the
        threshold and the neighbours a further resize reads. It is cut from
        the upsampling of a crop with two more stride-4 pixels of context
        (grown further if needed to stay on the exactly rounding kernel).
        """
        stride = self.common_stride
        height, width = probs.shape
        x0, y0, x1, y1 = window
        r0, r1 = max(stride * (y0 - 1) - 1, 0), min(stride * (y1 + 1) + 1, img_shape[0])
        c0, c1 = max(stride * (x0 - 1) - 1, 0), min(stride * (x1 + 1) + 1, img_shape[1])
        if y1 == 0 or r1 <= r0 or c1 <= c0:
            return probs.new_zeros((0, 0)), 0, 0
        top, bottom = max(y0 - 2, 0), min(y1 + 2, height)
        left, right = max(x0 - 2, 0), min(x1 + 2, width)
        while stride * (bottom - top + right - left) <= _VECTORIZED_RESIZE_MAX_SIZE_SUM:
            top, bottom = max(top - 1, 0), min(bottom + 1, height)
            left, right = max(left - 1, 0), min(right + 1, width)
        up = F.interpolate(probs[None, None, top:bottom, left:right], scale_factor=stride,
                           mode='bilinear', align_corners=False)[0, 0]
        block = up[r0 - stride * top:r1 - stride * top, c0 - stride * left:c1 - stride * left]
        return block, r0, c0

    def _single_step_tiles(self, feat_shape: Sequence[int], img_shape: Sequence[int],
                           out_shape: Sequence[int]) -> bool:
        """Whether results at the input size can be decided per stride-4 pixel and resized only in
        the tiles that stay undecided (the output is the image, and the map holds a tile)."""
        return tuple(out_shape) == tuple(img_shape) and min(feat_shape) >= _TILE

    def _resize_tiles(self, maps: Tensor, tiles: Tensor, decide: Callable[[Tensor], Tensor],
                      out: Tensor) -> None:
        """Write ``decide`` of the exactly upsampled ``maps`` into ``out`` on the given tiles.

        Args:
            maps (Tensor): ``(M, C, h, w)`` stride-4 maps.
            tiles (Tensor): ``(n, 3)`` rows ``(map, tile row, tile column)`` of the ``_TILE``
                grid (a partial last tile is taken as the full tile that ends at the border).
            decide (Callable): ``(n, C, t, t)`` upsampled tiles -> ``(n, t, t)`` values.
            out (Tensor): ``(M, s*h, s*w)`` output, written in place.

        Each tile is upsampled from a crop with one stride-4 pixel of context
        (none at the border, where the full resize clamps alike), so its
        pixels are bit-identical to resizing the whole map; tiles with the
        same crop shape are resized in one call.
        """
        stride, size = self.common_stride, _TILE
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
            for begin, end in _chunks(0, len(group), max(1, 256 // maps.shape[1])):
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

    def instance_masks(self, probs: Tensor, img_shape: Sequence[int],
                       out_shape: Sequence[int]) -> Tuple[Tensor, Tensor]:
        """``(N, h, w)`` stride-4 probabilities -> ``(N, *out_shape)`` bool masks and ``(N, 4)`` boxes.

        The masks equal resizing all probabilities to the image (upsample
        by the stride, crop the padding, resize to ``out_shape``) and
        thresholding at ``mask_thr``, which is how they are computed on a GPU
        (:meth:`_resize_whole`). On CPU, at the input size, a stride-4 pixel
        whose neighbours are all clearly above (below) the threshold gives
        true (false) for all pixels it covers, and only tiles with other
        pixels are resized. Rescaled, masks whose pixels near the threshold
        cover most of the map are resized a few at a time, the others only
        around those pixels (left at zero elsewhere before the resize to
        ``out_shape``).
        """
        num = len(probs)
        if not num or self._resize_whole(probs, img_shape, out_shape):
            masks = self._resize(probs, img_shape, out_shape) > self.mask_thr
            return masks, masks_to_boxes(masks)
        height, width = probs.shape[-2:]
        stride = self.common_stride
        if self._single_step_tiles((height, width), img_shape, out_shape):
            above = _max3x3((probs <= self.mask_thr + _MARGIN).view(torch.uint8)) == 0
            below = _max3x3((probs >= self.mask_thr - _MARGIN).view(torch.uint8)) == 0
            undecided = (~(above | below)).view(torch.uint8)
            tiles = F.max_pool2d(undecided[:, None].float(), _TILE, ceil_mode=True)[:, 0]
            masks = _expand_pixels(above, stride)
            self._resize_tiles(probs[:, None], torch.nonzero(tiles),
                               lambda up: up[:, 0] > self.mask_thr, masks)
            masks = masks[:, :img_shape[0], :img_shape[1]].contiguous()
            return masks, masks_to_boxes(masks)
        rescale = tuple(out_shape) != tuple(img_shape)
        windows = self._mask_windows(probs) if rescale else [(0, 0, width, height)] * num
        dense = [(x1 - x0 + 4) * (y1 - y0 + 4) > height * width / 2 for x0, y0, x1, y1 in windows]
        runs = [0] + [i for i in range(1, num) if dense[i] != dense[i - 1]] + [num]
        masks = probs.new_empty((num, *out_shape), dtype=torch.bool)
        for begin, end in (chunk for run in zip(runs[:-1], runs[1:]) for chunk in _chunks(*run)):
            if dense[begin]:
                resized = self._resize(probs[begin:end], img_shape, out_shape)
            else:
                canvas = probs.new_zeros((end - begin, *img_shape))
                for i in range(begin, end):
                    block, r0, c0 = self._crop_upsample(probs[i], windows[i], img_shape)
                    canvas[i - begin, r0:r0 + block.shape[0], c0:c0 + block.shape[1]] = block
                resized = F.interpolate(canvas[None], size=tuple(out_shape), mode='bilinear',
                                        align_corners=False)[0]
            torch.gt(resized, self.mask_thr, out=masks[begin:end])
        return masks, masks_to_boxes(masks)

    def stuff_region(self, probs: Tensor, classes: Tensor, img_shape: Sequence[int],
                     out_shape: Sequence[int]) -> Tensor:
        """Region channel (0 = things, 1..S = stuff) with the highest resized probability per pixel.

        ``probs`` are the ``(K, h, w)`` maps of the kept region ``classes``.
        Equal to the argmax over all resized maps (ties to the lower index),
        which is how it is computed on a GPU (:meth:`_resize_whole`). On CPU,
        at the input size, a stride-4 pixel whose neighbours all have the
        same highest map, clearly ahead of the second, gives that map for all
        pixels it covers, and only tiles with other pixels are resized;
        rescaled, the maps are resized a few at a time and folded into a
        running maximum (no ``K x H x W`` buffer, no slow reduction over it).
        """
        if not len(probs):
            return probs.new_zeros(tuple(out_shape), dtype=torch.long)
        if self._resize_whole(probs, img_shape, out_shape):
            return classes[self._resize(probs, img_shape, out_shape).argmax(0)]
        height, width = probs.shape[-2:]
        stride = self.common_stride
        if self._single_step_tiles((height, width), img_shape, out_shape):
            if len(probs) == 1:
                return classes[0].expand(*out_shape).clone()
            top2 = probs.topk(2, dim=0)
            first = top2.indices[0]
            unclear = (top2.values[0] - top2.values[1] <= _MARGIN).view(torch.uint8)
            uniform = (_max3x3(first) == -_max3x3(-first)) & (_max3x3(unclear) == 0)
            tiles = F.max_pool2d((~uniform)[None, None].float(), _TILE, ceil_mode=True)[0]
            region = _expand_pixels(classes[first][None], stride)
            self._resize_tiles(probs[None], torch.nonzero(tiles),
                               lambda up: classes[_first_argmax(up, 1)], region)
            return region[0, :img_shape[0], :img_shape[1]].contiguous()
        best = index = None
        for begin, end in _chunks(0, len(probs)):
            value, chunk_index = self._resize(probs[begin:end], img_shape, out_shape).max(0)
            if best is None:
                best, index = value, chunk_index
                continue
            higher = value > best  # ties stay with the earlier map
            torch.maximum(best, value, out=best)
            torch.where(higher, chunk_index.add_(begin), index, out=index)
        return classes[index]

    def combine(self, inst_masks: Tensor, labels: Tensor, scores: Tensor, region: Tensor,
                boxes: Optional[Tensor] = None) -> dict:
        """Combine instances and the region argmax into MMDet's result structures.

        Instances above ``panoptic_instance_score_thr`` are placed in score
        order, skipping empty ones and those whose already-covered fraction
        exceeds ``overlap_thr``; the remaining pixels of each stuff region with
        at least ``stuff_area_limit`` of them become stuff. Encoding: thing
        ``label + id * INSTANCE_OFFSET`` (ids from 1), stuff ``label``, void
        ``num_classes``; the semantic map marks void with MMDet's ignore
        label 255, which ``SemSegMetric`` and ``DetLocalVisualizer`` skip.
        ``boxes`` (``masks_to_boxes`` of the masks) are computed if not given.
        """
        if boxes is None:
            boxes = masks_to_boxes(inst_masks)
        pan, sem = self.panoptic_map(inst_masks, boxes, labels, scores, region)
        return self.pack(inst_masks, boxes, labels, scores, pan, sem)

    def panoptic_map(self, inst_masks: Tensor, boxes: Tensor, labels: Tensor, scores: Tensor,
                     region: Tensor) -> Tuple[Tensor, Tensor]:
        """Panoptic and semantic maps (see :meth:`combine`); each instance is only visited within its
        box, and the label maps are written once for stuff and then for each placed thing."""
        below = (scores < self.panoptic_instance_score_thr).int()
        num = int(below.argmax()) if below.any() else len(scores)  # placement stops at the first
        free = torch.ones_like(region, dtype=torch.bool)  # not yet covered by a thing
        placed = []
        for i, (x0, y0, x1, y1) in enumerate(boxes[:num].int().tolist()):
            area = _count(inst_masks[i, y0:y1, x0:x1])  # empty masks have empty boxes
            if area == 0:
                continue
            window = free[y0:y1, x0:x1]
            if (area - _count(window)) / area > self.overlap_thr:
                continue  # too little of its box is free: the overlap can only be larger
            new = inst_masks[i, y0:y1, x0:x1] & window
            if (area - _count(new)) / area > self.overlap_thr:
                continue
            window ^= new
            placed.append((y0, y1, x0, x1, new, i))
        free_region = region * free
        counts = torch.bincount(free_region.flatten(), minlength=self.num_stuff_classes + 1)
        big = counts >= self.stuff_area_limit
        big[0] = False
        channel_labels = torch.arange(len(big), device=region.device) + self.num_things_classes - 1
        pan = torch.where(big, channel_labels, self.num_classes)[free_region]
        sem = torch.where(big, channel_labels, self.semantic_void)[free_region]
        thing_labels = labels.tolist()
        for segment, (y0, y1, x0, x1, new, i) in enumerate(placed, 1):
            pan[y0:y1, x0:x1].masked_fill_(new, thing_labels[i] + segment * INSTANCE_OFFSET)
            sem[y0:y1, x0:x1].masked_fill_(new, thing_labels[i])
        return pan, sem

    @staticmethod
    def pack(inst_masks: Tensor, boxes: Tensor, labels: Tensor, scores: Tensor, pan: Tensor,
             sem: Tensor) -> dict:
        """MMDet's result structures of one image."""
        instances = InstanceData(masks=inst_masks, labels=labels, scores=scores, bboxes=boxes)
        return dict(
            pan_results=PixelData(sem_seg=pan[None]),
            ins_results=instances,
            sem_results=PixelData(sem_seg=sem[None]))
