"""Inference of Panoptic FCN: candidates, kernel fusion, masks and panoptic combination."""
from typing import Callable, Dict, List, Sequence

import torch
import torch.nn.functional as F
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from mmengine.structures import InstanceData, PixelData
from torch import Tensor

from ...utils.memory import available_memory
from ..layers import per_image_matmul


def masks_to_boxes(masks: Tensor) -> Tensor:
    """``(N, H, W)`` bool masks -> ``(N, 4)`` boxes ``x0, y0, x1, y1`` with ``x1``/``y1`` one past the
    last occupied column/row (all zeros for an empty mask), without a loop over masks."""
    cols, rows = masks.any(1), masks.any(2)
    width, height = cols.shape[-1], rows.shape[-1]
    boxes = torch.stack([
        cols.int().argmax(-1), rows.int().argmax(-1),
        width - cols.flip(-1).int().argmax(-1), height - rows.flip(-1).int().argmax(-1)
    ], -1).float()
    return boxes * masks.flatten(1).any(-1, keepdim=True)


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
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        _check_unit_interval(
            thing_score_thr=thing_score_thr, stuff_score_thr=stuff_score_thr,
            mask_thr=mask_thr, instance_score_thr=instance_score_thr,
            panoptic_instance_score_thr=panoptic_instance_score_thr, overlap_thr=overlap_thr)
        if not -1.0 <= similarity_thr <= 1.0:
            raise ValueError(f'KernelFusion: similarity_thr must be in [-1, 1], got {similarity_thr}')
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
            heat = heat * (F.max_pool2d(heat, 3, stride=1, padding=1) == heat)
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

        encode = encode_feat.flatten(2)
        thing_probs = torch.bmm(things['kernels'], encode).sigmoid()
        stuff_probs = torch.bmm(stuff['kernels'], encode).sigmoid()
        masks = thing_probs > self.mask_thr
        mask_scores = (thing_probs * masks).sum(-1) / (masks.sum(-1) + 1e-6)
        inst_scores = torch.where(things['valid'], things['scores'] * mask_scores,
                                  thing_probs.new_tensor(-1.0))
        order = torch.argsort(inst_scores, dim=1, descending=True)[:, :self.max_per_img]
        inst_scores = inst_scores.gather(1, order)
        inst_labels = things['labels'].gather(1, order)
        thing_probs = thing_probs.gather(1, order[..., None].expand(-1, -1, thing_probs.shape[-1]))

        feat_h, feat_w = encode_feat.shape[-2:]
        results = []
        for i, meta in enumerate(batch_img_metas):
            keep = inst_scores[i] >= self.instance_score_thr
            probs = thing_probs[i][keep].reshape(-1, feat_h, feat_w)
            stuff_keep = torch.nonzero(stuff['valid'][i], as_tuple=True)[0]
            stuff_map = stuff_probs[i][stuff_keep].reshape(-1, feat_h, feat_w)
            img_h, img_w = meta['img_shape'][:2]
            out_shape = meta['ori_shape'][:2] if rescale else (img_h, img_w)
            self._check_memory(len(probs) + len(stuff_keep), (img_h, img_w), out_shape, probs.device)
            inst_masks = self._resize(probs, (img_h, img_w), out_shape) > self.mask_thr
            stuff_map = self._resize(stuff_map, (img_h, img_w), out_shape)
            region = stuff_keep[stuff_map.argmax(0)] if len(stuff_keep) else stuff_map.new_zeros(
                out_shape, dtype=torch.long)
            results.append(
                self.combine(inst_masks, inst_labels[i][keep], inst_scores[i][keep], region))
        return results

    @staticmethod
    def _check_memory(num_masks: int, img_shape: Sequence[int], out_shape: Sequence[int],
                      device: torch.device) -> None:
        """Refuse with a clear message to build full-size masks that do not fit in memory.

        Counts a float probability and a bool mask per output pixel and a float per input
        pixel of each mask (the peak of ``_resize`` and the thresholding).
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

    def combine(self, inst_masks: Tensor, labels: Tensor, scores: Tensor, region: Tensor) -> dict:
        """Combine instances and the region argmax into MMDet's result structures.

        Instances above ``panoptic_instance_score_thr`` are placed in score
        order, skipping empty ones and those whose already-covered fraction
        exceeds ``overlap_thr``; the remaining pixels of each stuff region with
        at least ``stuff_area_limit`` of them become stuff. Encoding: thing
        ``label + id * INSTANCE_OFFSET`` (ids from 1), stuff ``label``, void
        ``num_classes``; the semantic map marks void with MMDet's ignore
        label 255, which ``SemSegMetric`` and ``DetLocalVisualizer`` skip.
        """
        height, width = region.shape
        pan = region.new_full((height, width), self.num_classes, dtype=torch.long)
        covered = torch.zeros_like(region, dtype=torch.bool)
        segment = 0
        for mask, label, score in zip(inst_masks, labels.tolist(), scores.tolist()):
            if score < self.panoptic_instance_score_thr:
                break
            area = int(mask.sum())
            overlap = int((mask & covered).sum())
            if area == 0 or overlap / area > self.overlap_thr:
                continue
            segment += 1
            mask = mask & ~covered
            pan[mask] = label + segment * INSTANCE_OFFSET
            covered |= mask
        free_region = torch.where(covered, torch.zeros_like(region), region)
        counts = torch.bincount(free_region.flatten(), minlength=self.num_stuff_classes + 1)
        big = counts >= self.stuff_area_limit
        big[0] = False
        stuff_pixels = big[free_region] & ~covered
        pan[stuff_pixels] = free_region[stuff_pixels] + self.num_things_classes - 1

        sem = pan % INSTANCE_OFFSET
        sem[sem == self.num_classes] = self.semantic_void
        instances = InstanceData(
            masks=inst_masks,
            labels=labels,
            scores=scores,
            bboxes=masks_to_boxes(inst_masks))
        return dict(
            pan_results=PixelData(sem_seg=pan[None]),
            ins_results=instances,
            sem_results=PixelData(sem_seg=sem[None]))
