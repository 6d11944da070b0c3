"""Kernel generator of Panoptic FCN: position head, kernel head, targets and losses."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.registry import MODELS, TASK_UTILS
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from ..layers import grid_centers, per_image_matmul, pool_region_kernels, position_prior
from ..utils import with_class_counts

# Parameter names of mmpfcn checkpoints written before the position and kernel heads became
# modules of their own, and their names now (see ``KernelGenerator._load_from_state_dict``).
RENAMED_PARAMETERS = (
    ('position_convs.', 'position_head.convs.'),
    ('region_convs.', 'position_head.region_convs.'),
    ('center_conv.', 'position_head.center_conv.'),
    ('region_conv.', 'position_head.region_conv.'),
    ('kernel_convs.', 'kernel_head.convs.'),
    ('kernel_out_conv.', 'kernel_head.out_conv.'),
    ('thing_embed.', 'kernel_head.thing_embed.'),
    ('stuff_embed.', 'kernel_head.stuff_embed.'),
)


@MODELS.register_module()
class KernelGenerator(BaseModule):
    """Generate kernels for things and stuff from FPN levels P3-P7 (paper Sec. 3.2).

    A :class:`PositionHead` (centre and region maps) and a :class:`KernelHead`
    (a kernel per position, and the thing / stuff embeddings) are shared by all
    levels. In training, kernels of things are taken at the ``num_positives``
    positions inside each instance with the highest predicted centre score
    (multi-positive weighted dice); stuff kernels are pooled over each region.
    In inference, :class:`KernelFusion` selects candidates, the kernel head
    embeds them, and :class:`KernelFusion` fuses them:
    :meth:`predict_by_feat` returns the fused, embedded kernels that the
    panoptic fusion head turns into masks.

    Args:
        num_things_classes (int): Thing classes (T).
        num_stuff_classes (int): Stuff classes (S).
        in_indices (Sequence[int]): FPN outputs the heads run on (P3-P7).
        position_head (dict): Config of the :class:`PositionHead` (its class
            counts come from this module).
        kernel_head (dict): Config of the :class:`KernelHead`.
        kernel_fusion (dict): Config of the :class:`KernelFusion`.
        num_positives (int): k, kernels per instance in training.
        target_generator (dict): Config of the target generator.
        loss_center (dict): Focal loss of thing centres.
        loss_region (dict): Focal loss of stuff regions.
        loss_thing_mask (dict): Weighted dice loss of thing masks.
        loss_stuff_mask (dict): Dice loss of stuff masks.
        position_prior_sigma (float, optional): Not in the paper: each thing
            mask's logits get a Gaussian prior around the position its kernel
            was taken at (:func:`position_prior`), with this sigma in cells of
            the kernel's level, in training and inference alike. None (the
            paper): no prior.
        train_cfg (dict, optional): Unused; MMDet's head interface.
        test_cfg (dict, optional): Inference settings, passed to the kernel fusion.
    """

    def __init__(self,
                 num_things_classes: int = 80,
                 num_stuff_classes: int = 53,
                 in_indices: Sequence[int] = (1, 2, 3, 4, 5),
                 position_head: ConfigType = dict(type='PositionHead'),
                 kernel_head: ConfigType = dict(type='KernelHead'),
                 kernel_fusion: ConfigType = dict(type='KernelFusion'),
                 num_positives: int = 7,
                 target_generator: ConfigType = dict(type='PanopticFCNTargetGenerator'),
                 loss_center: ConfigType = dict(
                     type='mmdet.FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                     reduction='sum', loss_weight=1.0),
                 loss_region: ConfigType = dict(
                     type='mmdet.FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                     reduction='sum', loss_weight=1.0),
                 loss_thing_mask: ConfigType = dict(type='WeightedDiceLoss', loss_weight=3.0),
                 loss_stuff_mask: ConfigType = dict(type='WeightedDiceLoss', loss_weight=3.0),
                 position_prior_sigma: Optional[float] = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_things_classes = num_things_classes
        self.num_stuff_classes = num_stuff_classes
        self.in_indices = tuple(in_indices)
        self.num_positives = num_positives
        if position_prior_sigma is not None and not position_prior_sigma > 0:
            raise ValueError('KernelGenerator: position_prior_sigma must be positive or None, '
                             f'got {position_prior_sigma}')
        self.position_prior_sigma = position_prior_sigma
        classes = dict(num_things_classes=num_things_classes, num_stuff_classes=num_stuff_classes)
        self.position_head = MODELS.build(
            with_class_counts(position_head, 'kernel_generator.position_head', **classes))
        self.kernel_head = MODELS.build(kernel_head)
        self.kernel_fusion = MODELS.build({**kernel_fusion, 'test_cfg': test_cfg})
        self.target_generator = TASK_UTILS.build(
            with_class_counts(target_generator, 'kernel_generator.target_generator', **classes))
        self.loss_center = MODELS.build(loss_center)
        self.loss_region = MODELS.build(loss_region)
        self.loss_thing_mask = MODELS.build(loss_thing_mask)
        self.loss_stuff_mask = MODELS.build(loss_stuff_mask)

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args, **kwargs) -> None:
        """Load checkpoints of earlier mmpfcn versions too, renaming their parameters
        (``RENAMED_PARAMETERS``) to the position and kernel heads' names."""
        for old, new in RENAMED_PARAMETERS:
            for key in [k for k in state_dict if k.startswith(prefix + old)]:
                state_dict[prefix + new + key[len(prefix + old):]] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, feats: Tuple[Tensor, ...]) -> Tuple[List[Tensor], List[Tensor], List[Tensor]]:
        """Centre logits ``(B, T, h, w)``, region logits ``(B, 1+S, h, w)`` and kernel features
        ``(B, C, h, w)``, each a list over the levels."""
        centers, regions = self.position_maps(feats)
        kernels = [self.kernel_head(feats[i]) for i in self.in_indices]
        return centers, regions, kernels

    def position_maps(self, feats: Tuple[Tensor, ...]) -> Tuple[List[Tensor], List[Tensor]]:
        """Centre and region logits of every level, without the kernel head (test-time views)."""
        centers, regions = zip(*(self.position_head(feats[i]) for i in self.in_indices))
        return list(centers), list(regions)

    def loss(self, feats: Tuple[Tensor, ...], encode_feat: Tensor,
             batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Forward, build targets from ``DetDataSample`` ground truth, and compute losses."""
        outs = self(feats)
        batch_gt_instances = [s.gt_instances for s in batch_data_samples]
        gt_sem_seg = torch.stack([s.gt_sem_seg.sem_seg[0] for s in batch_data_samples])
        batch_input_shape = batch_data_samples[0].metainfo['batch_input_shape']
        return self.loss_by_feat(*outs, encode_feat, batch_gt_instances, gt_sem_seg,
                                 batch_input_shape)

    def loss_by_feat(self, center_logits: List[Tensor], region_logits: List[Tensor],
                     kernel_feats: List[Tensor], encode_feat: Tensor,
                     batch_gt_instances: list, gt_sem_seg: Tensor,
                     batch_input_shape: Tuple[int, int]) -> Dict[str, Tensor]:
        """Position losses on every level and mask losses on generated kernels.

        Normalisation follows the authors: thing terms are divided by the
        number of (instance, level) assignments, the region focal loss is a
        per-pixel mean summed over classes and divided by the batch size, and
        the stuff mask loss by the number of (region, level) assignments.
        """
        num_imgs = encode_feat.shape[0]
        # Focal losses in float32 also under bf16 autocast (sums over every position).
        center_logits = [c.float() for c in center_logits]
        region_logits = [r.float() for r in region_logits]
        level_sizes = [tuple(c.shape[-2:]) for c in center_logits]
        targets = self.target_generator(batch_gt_instances, gt_sem_seg, batch_input_shape,
                                        level_sizes, tuple(encode_feat.shape[-2:]))
        num_assign = len(targets['assign_inst'])
        norm = max(num_assign, 1)

        loss_center = sum(
            self.loss_center(c.flatten(1), t.flatten(1))
            for c, t in zip(center_logits, targets['center_heatmaps']))
        loss_region = sum(
            self.loss_region(r.flatten(1), t.flatten(1)) / (r.shape[-2] * r.shape[-1])
            for r, t in zip(region_logits, targets['region_targets']))

        encode = encode_feat.flatten(2)
        thing_kernels, thing_weights, thing_centers = self._thing_kernels(
            center_logits, kernel_feats, targets)
        if num_assign:
            thing_logits = per_image_matmul(
                self.kernel_head.embed_things(thing_kernels), targets['assign_img'], encode)
            if self.position_prior_sigma is not None:
                thing_logits = thing_logits + position_prior(thing_centers,
                                                             encode_feat.shape[-2:])
            thing_targets = targets['inst_masks'][targets['assign_inst']].flatten(1)
            loss_thing_mask = self.loss_thing_mask(
                thing_logits, thing_targets, thing_weights, avg_factor=norm)
        else:
            loss_thing_mask = encode_feat.sum() * 0 + sum(k.sum() for k in kernel_feats) * 0

        stuff_kernels, stuff_img, stuff_cls = self._stuff_kernels(kernel_feats, targets)
        if len(stuff_kernels):
            stuff_logits = per_image_matmul(
                self.kernel_head.embed_stuff(stuff_kernels), stuff_img, encode)
            stuff_targets = targets['sem_masks'][stuff_img, stuff_cls].flatten(1)
            loss_stuff_mask = self.loss_stuff_mask(
                stuff_logits, stuff_targets, avg_factor=len(stuff_kernels))
        else:
            loss_stuff_mask = encode_feat.sum() * 0

        return dict(
            loss_center=loss_center / norm,
            loss_region=loss_region / num_imgs,
            loss_thing_mask=loss_thing_mask,
            loss_stuff_mask=loss_stuff_mask)

    def _thing_kernels(self, center_logits: List[Tensor], kernel_feats: List[Tensor],
                       targets: dict) -> Tuple[Tensor, Tensor, Tensor]:
        """Kernels at the top-k centre-scored positions inside each assigned instance.

        Returns ``(A, k, C)`` kernels, their ``(A, k)`` centre scores, which
        weight the dice loss (gradients flow through them, as in the authors'
        implementation), and the ``(A, k, 3)`` :func:`grid_centers` of their
        positions with ``position_prior_sigma`` (zero sigma for padding, and
        without a prior).
        """
        assign_level = targets['assign_level']
        num_assign = len(assign_level)
        channels = kernel_feats[0].shape[1]
        kernels = kernel_feats[0].new_zeros((num_assign, self.num_positives, channels))
        weights = center_logits[0].new_zeros((num_assign, self.num_positives))
        prior_centers = center_logits[0].new_zeros((num_assign, self.num_positives, 3))
        sigma = self.position_prior_sigma or 0.0
        for level, (centers, feats) in enumerate(zip(center_logits, kernel_feats)):
            sel = torch.nonzero(assign_level == level, as_tuple=True)[0]
            if not len(sel):
                continue
            h, w = centers.shape[-2:]
            imgs = targets['assign_img'][sel]
            guide = F.interpolate(targets['inst_masks'][targets['assign_inst'][sel]][:, None],
                                  size=(h, w), mode='bilinear', align_corners=False)[:, 0]
            scores = centers[imgs, targets['assign_label'][sel]].sigmoid()
            guidance = (scores * (guide > 0.1)).flatten(1)
            k = min(self.num_positives, h * w)
            values, index = guidance.topk(k, dim=1)
            level_kernels = feats.flatten(2)[imgs[:, None], :, index]
            kernels = kernels.index_put(
                (sel, ), F.pad(level_kernels, (0, 0, 0, self.num_positives - k)))
            weights = weights.index_put((sel, ), F.pad(values, (0, self.num_positives - k)))
            prior_centers = prior_centers.index_put(
                (sel, ), F.pad(grid_centers(index, h, w, sigma), (0, 0, 0, self.num_positives - k)))
        return kernels, weights, prior_centers

    def _stuff_kernels(self, kernel_feats: List[Tensor],
                       targets: dict) -> Tuple[Tensor, Tensor, Tensor]:
        """Kernels pooled over each level's binarised region (``pool_region_kernels``).

        Returns ``(M, C)`` kernels with the image and region channel of each.
        """
        kernels, imgs, classes = [], [], []
        for feats, region in zip(kernel_feats, targets['region_targets']):
            mask = (region > 0).to(feats.dtype)
            level_kernels = pool_region_kernels(mask, feats)
            img, cls = torch.nonzero(mask.flatten(2).any(-1), as_tuple=True)
            kernels.append(level_kernels[img, cls])
            imgs.append(img)
            classes.append(cls)
        return torch.cat(kernels), torch.cat(imgs), torch.cat(classes)

    def predict_by_feat(self, center_logits: List[Tensor], region_logits: List[Tensor],
                        kernel_feats: List[Tensor]) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        """Fused, embedded thing and stuff kernels of every image.

        Returns ``things`` (``kernels`` ``(B, N, Ce)``, ``labels``, ``scores``,
        ``valid`` ``(B, N)``, survivors first in score order) and ``stuff``
        (``kernels`` ``(B, 1+S, Ce)``, ``scores``, ``valid`` ``(B, 1+S)``). With
        ``position_prior_sigma``, ``things`` also has the ``(B, N, 3)``
        ``prior_centers`` of the surviving kernels, for :func:`position_prior`.
        """
        fusion = self.kernel_fusion
        things = fusion.thing_candidates(center_logits, kernel_feats)
        things = fusion.fuse_thing_kernels(
            self.kernel_head.embed_things(things['kernels']), things['labels'], things['scores'],
            things['valid'], self.prior_centers(things['centers']))
        stuff = fusion.stuff_candidates(region_logits, kernel_feats)
        stuff = fusion.fuse_stuff_kernels(
            self.kernel_head.embed_stuff(stuff['kernels']), stuff['scores'], stuff['valid'])
        return things, stuff

    def prior_centers(self, centers: Tensor) -> Optional[Tensor]:
        """The candidates' ``(..., 3)`` centres (one-cell sigma) with ``position_prior_sigma``;
        None without a prior."""
        if self.position_prior_sigma is None:
            return None
        return centers * centers.new_tensor([1.0, 1.0, self.position_prior_sigma])

    def predict(self, feats: Tuple[Tensor, ...],
                batch_data_samples: SampleList) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        """Fused, embedded thing and stuff kernels of the batch (:meth:`predict_by_feat`)."""
        return self.predict_by_feat(*self(feats))
