"""Masks, re-scoring and panoptic / instance / semantic results of Panoptic FCN."""
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.models.seg_heads.panoptic_fusion_heads import BasePanopticFusionHead
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.utils import OptConfigType, OptMultiConfig
from mmengine.structures import InstanceData, PixelData
from torch import Tensor

from ....utils.memory import available_memory
from ...layers import position_prior
from ...utils import masks_to_boxes, region_argmax, threshold_masks
from ...utils.test_cfg import own_test_cfg

# Rows of mask probabilities re-scored per step (bounds the temporary boolean masks).
_RESCORE_ROWS = 64


def _count(mask: Tensor) -> int:
    """Number of true pixels of a bool tensor (summing bytes avoids a conversion to int64)."""
    return int(mask.view(torch.uint8).sum(dtype=torch.int32))


@MODELS.register_module()
class PanopticFCNFusionHead(BasePanopticFusionHead):
    """Turn fused thing and stuff kernels into MMDetection's results.

    Masks are the sigmoid of the kernels times the encoded feature; instances
    are re-scored by their mask and kept in score order; stuff pixels take the
    region class of the highest stuff mask; instances and stuff are combined
    into the panoptic map (paper Sec. 3.4, the authors' ``combine_thing_and_stuff``).
    Everything up to the stride-4 masks runs for the whole batch at once; only
    the resizing to each image's own size runs per image
    (:mod:`mmpfcn.models.utils.mask_resize`).

    Args:
        num_things_classes (int): Thing classes (T).
        num_stuff_classes (int): Stuff classes (S).
        common_stride (int): Stride of the encoded feature.
        test_cfg (dict, optional): Inference settings; the keys this head
            reads and their defaults are in ``default_test_cfg``:
            ``max_per_img`` (cap on instances), ``mask_thr`` (mask
            probability threshold), ``instance_score_thr`` (minimum re-scored
            instance score), ``panoptic_instance_score_thr`` (minimum score of
            an instance placed in the panoptic map), ``overlap_thr`` (an
            instance covered by earlier ones for more than this fraction of
            its area is dropped), ``stuff_area_limit`` (minimum pixels of a
            stuff segment), ``region_prior_levels`` (how many of the finest
            region maps, as probabilities averaged and resized to the encoded
            feature, multiply the stuff mask probabilities before each pixel
            takes its region class; 0, the paper, decides by the masks alone)
            and ``panoptic_on`` / ``instance_on`` / ``semantic_on`` (which
            results to return).
        loss_panoptic (dict, optional): Unused (the masks are trained through
            the kernel generator's losses); kept for MMDet's interface.
    """

    default_test_cfg = dict(
        max_per_img=100,
        mask_thr=0.4,
        instance_score_thr=0.05,
        panoptic_instance_score_thr=0.2,
        overlap_thr=0.5,
        stuff_area_limit=4096,
        region_prior_levels=0,
        panoptic_on=True,
        instance_on=True,
        semantic_on=True)
    # Label of unassigned pixels in ``pred_sem_seg`` (MMDet's ignore index).
    semantic_void = 255

    def __init__(self,
                 num_things_classes: int = 80,
                 num_stuff_classes: int = 53,
                 common_stride: int = 4,
                 test_cfg: OptConfigType = None,
                 loss_panoptic: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        cfg = own_test_cfg('PanopticFCNFusionHead', self.default_test_cfg, test_cfg, [
            'mask_thr', 'instance_score_thr', 'panoptic_instance_score_thr', 'overlap_thr'])
        if cfg.region_prior_levels < 0:
            raise ValueError('PanopticFCNFusionHead: test_cfg.region_prior_levels must be >= 0, '
                             f'got {cfg.region_prior_levels}')
        super().__init__(num_things_classes=num_things_classes,
                         num_stuff_classes=num_stuff_classes, test_cfg=cfg,
                         loss_panoptic=loss_panoptic, init_cfg=init_cfg)
        self.common_stride = common_stride

    def loss(self, **kwargs) -> Dict[str, Tensor]:
        """No loss of its own: masks are trained through the kernel generator."""
        return dict()

    def mask_probabilities(self, things: Dict[str, Tensor], stuff: Dict[str, Tensor],
                           encode_feat: Tensor) -> Dict[str, Tensor]:
        """Stride-4 mask probabilities of the fused kernels and the re-scored instance order.

        Thing kernels that come with ``prior_centers`` (the kernel generator's
        ``position_prior_sigma``) get the :func:`position_prior` on their
        logits. An instance's score is its centre score times the mean probability
        inside its mask (> ``mask_thr``), computed only for the leading rows
        that hold a surviving kernel in some image (survivors come first), in
        blocks of rows. Returns ``thing_probs`` ``(B, N, HW)``, ``order``
        ``(B, max_per_img)`` (indices into them by descending score), the
        sorted ``scores`` and ``labels``, ``num_instances`` (how many reach
        ``instance_score_thr``, per image) and ``stuff_probs`` ``(B, 1+S, HW)``.
        """
        cfg = self.test_cfg
        encode = encode_feat.flatten(2)
        # Whole products and sigmoids, in place: the rounding of a matmul may depend on its number
        # of rows, and a vectorised sigmoid's on where the array ends.
        thing_logits = torch.bmm(things['kernels'], encode)
        if 'prior_centers' in things:
            thing_logits += position_prior(things['prior_centers'], encode_feat.shape[-2:])
        thing_probs = thing_logits.sigmoid_()
        stuff_probs = torch.bmm(stuff['kernels'], encode).sigmoid_()
        num_imgs, num_kernels = things['scores'].shape
        num_valid = int(things['valid'].sum(1).max()) if things['valid'].numel() else 0
        mask_scores = [thing_probs.new_full((num_imgs, num_kernels - num_valid), -1.0)]
        for start in range(0, num_valid, _RESCORE_ROWS):
            probs = thing_probs[:, start:min(start + _RESCORE_ROWS, num_valid)]
            masks = probs > cfg.mask_thr
            inside = torch.where(masks, probs, probs.new_zeros(())).sum(-1)
            area = masks.view(torch.uint8).sum(-1, dtype=torch.int32)
            mask_scores.insert(-1, inside / (area + 1e-6))
        mask_scores = torch.cat(mask_scores, 1)
        inst_scores = torch.where(things['valid'], things['scores'] * mask_scores,
                                  thing_probs.new_tensor(-1.0))
        order = torch.argsort(inst_scores, dim=1, descending=True)[:, :cfg.max_per_img]
        scores = inst_scores.gather(1, order)
        return dict(
            thing_probs=thing_probs,
            order=order,
            scores=scores,
            labels=things['labels'].gather(1, order),
            num_instances=(scores >= cfg.instance_score_thr).sum(1),
            stuff_probs=stuff_probs)

    def region_prior(self, region_logits: List[Tensor], size: Sequence[int]) -> Tensor:
        """Mean probability of the ``region_prior_levels`` finest region maps, bilinearly resized
        to ``size``, ``(B, 1+S, H*W)``."""
        levels = self.test_cfg.region_prior_levels
        if levels > len(region_logits):
            raise ValueError(
                f'PanopticFCNFusionHead: test_cfg.region_prior_levels is {levels}, but the head '
                f'gives {len(region_logits)} region maps')
        probs = [F.interpolate(logits.float().sigmoid(), size=tuple(size), mode='bilinear',
                               align_corners=False) for logits in region_logits[:levels]]
        return (sum(probs) / len(probs)).flatten(2)

    def instance_postprocess(self, masks: Tensor, boxes: Tensor, labels: Tensor,
                             scores: Tensor) -> InstanceData:
        """Instances of one image in MMDet's form (masks, boxes, labels, scores)."""
        return InstanceData(masks=masks, labels=labels, scores=scores, bboxes=boxes)

    def panoptic_postprocess(self, masks: Tensor, boxes: Tensor, labels: Tensor, scores: Tensor,
                             region: Tensor, stuff_scores: Tensor) -> Tuple[Tensor, List[dict]]:
        """Panoptic map of one image from its instances and its region argmax, and its segments.

        Instances above ``panoptic_instance_score_thr`` are placed in score
        order, skipping empty ones and those whose already-covered fraction
        exceeds ``overlap_thr``; the remaining pixels of each stuff region with
        at least ``stuff_area_limit`` of them become stuff. Encoding: thing
        ``label + id * INSTANCE_OFFSET`` (ids from 1), stuff ``label``, void
        ``num_classes``. Each instance is only visited within its box.

        Each segment is described by ``id`` (its value in the map), ``label``,
        ``isthing``, ``score`` (the instance's, or the stuff kernel's region
        score from ``stuff_scores``, ``(1+S,)`` by region channel) and, for
        things, ``instance`` (its index in the instance results).
        """
        cfg = self.test_cfg
        below = (scores < cfg.panoptic_instance_score_thr).int()
        num = int(below.argmax()) if below.any() else len(scores)  # placement stops at the first
        free = torch.ones_like(region, dtype=torch.bool)  # not yet covered by a thing
        placed = []
        for i, (x0, y0, x1, y1) in enumerate(boxes[:num].int().tolist()):
            area = _count(masks[i, y0:y1, x0:x1])  # empty masks have empty boxes
            if area == 0:
                continue
            window = free[y0:y1, x0:x1]
            if (area - _count(window)) / area > cfg.overlap_thr:
                continue  # too little of its box is free: the overlap can only be larger
            new = masks[i, y0:y1, x0:x1] & window
            if (area - _count(new)) / area > cfg.overlap_thr:
                continue
            window ^= new
            placed.append((y0, y1, x0, x1, new, i))
        free_region = region * free
        counts = torch.bincount(free_region.flatten(), minlength=self.num_stuff_classes + 1)
        big = counts >= cfg.stuff_area_limit
        big[0] = False
        channel_labels = torch.arange(len(big), device=region.device) + self.num_things_classes - 1
        pan = torch.where(big, channel_labels, self.num_classes)[free_region]
        thing_labels, thing_scores = labels.tolist(), scores.tolist()
        segments = []
        for segment, (y0, y1, x0, x1, new, i) in enumerate(placed, 1):
            value = thing_labels[i] + segment * INSTANCE_OFFSET
            pan[y0:y1, x0:x1].masked_fill_(new, value)
            segments.append(dict(id=value, label=thing_labels[i], isthing=True,
                                 score=thing_scores[i], instance=i))
        for channel in torch.nonzero(big, as_tuple=True)[0].tolist():
            label = channel + self.num_things_classes - 1
            segments.append(dict(id=label, label=label, isthing=False,
                                 score=float(stuff_scores[channel])))
        return pan, segments

    def semantic_postprocess(self, pan: Tensor) -> Tensor:
        """Semantic map of a panoptic map: each pixel's class, void as MMDet's ignore label 255
        (which ``SemSegMetric`` and ``DetLocalVisualizer`` skip)."""
        labels = pan % INSTANCE_OFFSET
        return labels.masked_fill_(labels == self.num_classes, self.semantic_void)

    def predict(self, things: Dict[str, Tensor], stuff: Dict[str, Tensor], encode_feat: Tensor,
                region_logits: List[Tensor], batch_data_samples: SampleList,
                rescale: bool = True) -> List[dict]:
        """Results of each image of the batch.

        Args:
            things (dict): Fused thing kernels ``(B, N, Ce)`` with their
                ``labels``, ``scores`` and ``valid`` ``(B, N)``.
            stuff (dict): Fused stuff kernels ``(B, 1+S, Ce)`` with their
                ``scores`` and ``valid`` ``(B, 1+S)``.
            encode_feat (Tensor): ``(B, Ce, H/4, W/4)`` encoded feature.
            region_logits (list[Tensor]): Region maps per level (for
                ``region_prior_levels``).
            batch_data_samples (list[DetDataSample]): ``img_shape``, ``ori_shape``.
            rescale (bool): Results at ``ori_shape`` (else ``img_shape``).

        Returns:
            list[dict]: per image, ``pan_results`` (PixelData; its metainfo
            ``segments_info`` lists the segments, see
            :meth:`panoptic_postprocess`), ``sem_results`` (PixelData) and
            ``ins_results`` (InstanceData), as enabled by ``panoptic_on``,
            ``semantic_on`` and ``instance_on``.
        """
        cfg = self.test_cfg
        probs = self.mask_probabilities(things, stuff, encode_feat)
        if cfg.region_prior_levels:
            probs['stuff_probs'].mul_(self.region_prior(region_logits, encode_feat.shape[-2:]))
        feat_h, feat_w = encode_feat.shape[-2:]
        # One host synchronisation for the sizes of every image's results.
        counts = torch.stack([probs['num_instances'], stuff['valid'].sum(1)], 1).tolist()
        results = []
        for i, (sample, (num_inst, num_stuff)) in enumerate(zip(batch_data_samples, counts)):
            img_shape = tuple(sample.metainfo['img_shape'][:2])
            out_shape = tuple(sample.metainfo['ori_shape'][:2]) if rescale else img_shape
            order = probs['order'][i, :num_inst]
            inst_probs = probs['thing_probs'][i].index_select(0, order).reshape(-1, feat_h, feat_w)
            labels, scores = probs['labels'][i, :num_inst], probs['scores'][i, :num_inst]
            self._check_memory(num_inst + num_stuff, img_shape, out_shape, inst_probs.device)
            masks = threshold_masks(inst_probs, cfg.mask_thr, self.common_stride, img_shape,
                                    out_shape)
            boxes = masks_to_boxes(masks)
            result = dict()
            if cfg.instance_on:
                result['ins_results'] = self.instance_postprocess(masks, boxes, labels, scores)
            if cfg.panoptic_on or cfg.semantic_on:
                stuff_classes = torch.nonzero(stuff['valid'][i], as_tuple=True)[0]
                stuff_probs = probs['stuff_probs'][i].index_select(0, stuff_classes)
                region = region_argmax(stuff_probs.reshape(-1, feat_h, feat_w), stuff_classes,
                                       self.common_stride, img_shape, out_shape)
                pan, segments = self.panoptic_postprocess(masks, boxes, labels, scores, region,
                                                          stuff['scores'][i])
                if cfg.panoptic_on:
                    result['pan_results'] = PixelData(sem_seg=pan[None],
                                                      metainfo=dict(segments_info=segments))
                if cfg.semantic_on:
                    result['sem_results'] = PixelData(sem_seg=self.semantic_postprocess(pan)[None])
            results.append(result)
        return results

    @staticmethod
    def _check_memory(num_masks: int, img_shape: Tuple[int, int], out_shape: Tuple[int, int],
                      device: torch.device) -> None:
        """Refuse with a clear message to build full-size masks that do not fit in memory.

        Counts, per mask, a float probability and a bool mask per output pixel
        and a float per input pixel: the peak of resizing all masks at once, an
        upper bound of the mask-by-mask resizing used where exact.
        """
        needed = num_masks * (out_shape[0] * out_shape[1] * 5 + img_shape[0] * img_shape[1] * 4)
        available = available_memory(device)
        if needed > available:
            raise MemoryError(
                f'PanopticFCNFusionHead: {num_masks} masks of {out_shape[1]}x{out_shape[0]} '
                f'pixels need {needed / 2**30:.1f} GiB but {device} has '
                f'{available / 2**30:.1f} GiB available; lower model.test_cfg.max_per_img, raise '
                'model.test_cfg.instance_score_thr, or predict with rescale=False (masks at the '
                'network input size)')
