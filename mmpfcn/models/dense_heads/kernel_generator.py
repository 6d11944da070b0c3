"""Kernel generator of Panoptic FCN: position head, kernel head and kernel embedding."""
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.registry import MODELS, TASK_UTILS
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.model import BaseModule, normal_init
from torch import Tensor, nn

from ..layers import append_coordinates, per_image_matmul


@MODELS.register_module()
class KernelGenerator(BaseModule):
    """Generate object-centre maps, stuff-region maps and a kernel per position.

    One position head and one kernel head are shared by all levels (P3-P7).
    The position head predicts a heatmap per thing class and a region map per
    stuff class plus one merged "things" region (channel 0); the kernel head
    predicts a ``feat_channels`` kernel at every position. Two 1x1 convs embed
    thing and stuff kernels into ``embed_channels`` (Ce) weights that are
    convolved with the encoded feature to give masks.

    In training, kernels of things are taken at the ``num_positives`` positions
    inside each instance with the highest predicted centre score (multi-positive
    weighted dice); stuff kernels are averaged over each region.

    Args:
        num_things_classes (int): Thing classes (T).
        num_stuff_classes (int): Stuff classes (S); the region maps have S + 1 channels.
        in_channels (int): Channels of the FPN levels.
        in_indices (Sequence[int]): FPN outputs the head runs on (P3-P7).
        feat_channels (int): Channels of both towers and of the kernels.
        embed_channels (int): Ce, channels of the embedded kernels.
        num_convs (int): Convs per tower.
        norm_cfg (dict): Norm of the towers.
        position_conv_cfg (dict, optional): Conv of the position tower,
            ``dict(type='DCNv2')`` for modulated deformable convs.
        kernel_with_coord (bool): Append coordinates before the kernel tower.
        position_with_coord (bool): Append coordinates before the position tower.
        shared_position_tower (bool): Centre and region maps share the position
            tower, as in the paper; False gives the region maps a tower of
            their own (``region_convs``, same form), so that the two tasks
            stop competing for its channels.
        bias_value (float): Initial bias of both position outputs.
        num_positives (int): k, kernels per instance in training.
        target_generator (dict): Config of the target generator.
        loss_center (dict): Focal loss of thing centres.
        loss_region (dict): Focal loss of stuff regions.
        loss_thing_mask (dict): Weighted dice loss of thing masks.
        loss_stuff_mask (dict): Dice loss of stuff masks.
    """

    def __init__(self,
                 num_things_classes: int = 80,
                 num_stuff_classes: int = 53,
                 in_channels: int = 256,
                 in_indices: Sequence[int] = (1, 2, 3, 4, 5),
                 feat_channels: int = 256,
                 embed_channels: int = 64,
                 num_convs: int = 3,
                 norm_cfg: ConfigType = dict(type='GN', num_groups=32, requires_grad=True),
                 position_conv_cfg: OptConfigType = None,
                 kernel_with_coord: bool = True,
                 position_with_coord: bool = False,
                 shared_position_tower: bool = True,
                 bias_value: float = -2.19,
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
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_things_classes = num_things_classes
        self.num_stuff_classes = num_stuff_classes
        self.in_indices = tuple(in_indices)
        self.num_positives = num_positives
        self.kernel_with_coord = kernel_with_coord
        self.position_with_coord = position_with_coord
        self.bias_value = bias_value

        self.position_convs = self._tower(in_channels + 2 * position_with_coord, feat_channels,
                                          num_convs, norm_cfg, position_conv_cfg)
        self.region_convs = None if shared_position_tower else self._tower(
            in_channels + 2 * position_with_coord, feat_channels, num_convs, norm_cfg,
            position_conv_cfg)
        self.center_conv = nn.Conv2d(feat_channels, num_things_classes, 3, padding=1)
        self.region_conv = nn.Conv2d(feat_channels, num_stuff_classes + 1, 3, padding=1)
        self.kernel_convs = self._tower(in_channels + 2 * kernel_with_coord, feat_channels,
                                        num_convs, norm_cfg, None)
        self.kernel_out_conv = nn.Conv2d(feat_channels, feat_channels, 3, padding=1)
        self.thing_embed = nn.Conv2d(feat_channels, embed_channels, 1)
        self.stuff_embed = nn.Conv2d(feat_channels, embed_channels, 1)

        target_generator = dict(target_generator)
        target_generator.setdefault('num_things_classes', num_things_classes)
        target_generator.setdefault('num_stuff_classes', num_stuff_classes)
        self.target_generator = TASK_UTILS.build(target_generator)
        self.loss_center = MODELS.build(loss_center)
        self.loss_region = MODELS.build(loss_region)
        self.loss_thing_mask = MODELS.build(loss_thing_mask)
        self.loss_stuff_mask = MODELS.build(loss_stuff_mask)

    @staticmethod
    def _tower(in_channels: int, channels: int, num_convs: int, norm_cfg: ConfigType,
               conv_cfg: OptConfigType) -> nn.ModuleList:
        return nn.ModuleList(
            ConvModule(in_channels if k == 0 else channels, channels, 3, padding=1,
                       conv_cfg=conv_cfg, norm_cfg=norm_cfg) for k in range(num_convs))

    def init_weights(self) -> None:
        """Initialise output convs as the authors do (normal 0.01, prior bias)."""
        super().init_weights()
        for conv in (self.center_conv, self.region_conv):
            normal_init(conv, std=0.01, bias=self.bias_value)
        for conv in (self.kernel_out_conv, self.thing_embed, self.stuff_embed):
            normal_init(conv, std=0.01, bias=0)

    def forward_single(self, feat: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Centre logits ``(B, T, h, w)``, region logits ``(B, 1+S, h, w)``, kernels ``(B, C, h, w)``."""
        centers, regions = self.position_single(feat)
        k = self._run(self.kernel_convs, append_coordinates(feat) if self.kernel_with_coord else feat)
        return centers, regions, self.kernel_out_conv(k)

    def position_single(self, feat: Tensor) -> Tuple[Tensor, Tensor]:
        """The position head alone: centre and region logits of one level."""
        position_in = append_coordinates(feat) if self.position_with_coord else feat
        x = self._run(self.position_convs, position_in)
        r = x if self.region_convs is None else self._run(self.region_convs, position_in)
        return self.center_conv(x), self.region_conv(r)

    def position_maps(self, feats: Tuple[Tensor, ...]) -> Tuple[List[Tensor], List[Tensor]]:
        """Centre and region logits of every level without the kernel head (test-time views)."""
        centers, regions = zip(*(self.position_single(feats[i]) for i in self.in_indices))
        return list(centers), list(regions)

    @staticmethod
    def _run(tower: nn.ModuleList, x: Tensor) -> Tensor:
        for conv in tower:
            x = conv(x)
        return x

    def forward(self, feats: Tuple[Tensor, ...]) -> Tuple[List[Tensor], List[Tensor], List[Tensor]]:
        """Run the shared heads on every level; returns three lists over levels."""
        outs = [self.forward_single(feats[i]) for i in self.in_indices]
        centers, regions, kernels = zip(*outs)
        return list(centers), list(regions), list(kernels)

    def embed_things(self, kernels: Tensor) -> Tensor:
        """Embed ``(..., C)`` thing kernels into ``(..., Ce)`` mask weights (the 1x1 conv)."""
        return F.linear(kernels, self.thing_embed.weight.flatten(1), self.thing_embed.bias)

    def embed_stuff(self, kernels: Tensor) -> Tensor:
        """Embed ``(..., C)`` stuff kernels into ``(..., Ce)`` mask weights (the 1x1 conv)."""
        return F.linear(kernels, self.stuff_embed.weight.flatten(1), self.stuff_embed.bias)

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
            self.loss_center(c.flatten(1), t.flatten(1)) for c, t in zip(center_logits, targets['center_heatmaps']))
        loss_region = sum(
            self.loss_region(r.flatten(1), t.flatten(1)) / (r.shape[-2] * r.shape[-1])
            for r, t in zip(region_logits, targets['region_targets']))

        encode = encode_feat.flatten(2)
        thing_kernels, thing_weights = self._thing_kernels(center_logits, kernel_feats, targets)
        if num_assign:
            thing_logits = per_image_matmul(
                self.embed_things(thing_kernels), targets['assign_img'], encode)
            thing_targets = targets['inst_masks'][targets['assign_inst']].flatten(1)
            loss_thing_mask = self.loss_thing_mask(
                thing_logits, thing_targets, thing_weights, avg_factor=norm)
        else:
            loss_thing_mask = encode_feat.sum() * 0 + sum(k.sum() for k in kernel_feats) * 0

        stuff_kernels, stuff_img, stuff_cls = self._stuff_kernels(kernel_feats, targets)
        if len(stuff_kernels):
            stuff_logits = per_image_matmul(
                self.embed_stuff(stuff_kernels), stuff_img, encode)
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
                       targets: dict) -> Tuple[Tensor, Tensor]:
        """Kernels at the top-k centre-scored positions inside each assigned instance.

        Returns ``(A, k, C)`` kernels and their ``(A, k)`` centre scores, which
        weight the dice loss (gradients flow through them, as in the authors'
        implementation).
        """
        assign_level = targets['assign_level']
        num_assign = len(assign_level)
        channels = kernel_feats[0].shape[1]
        kernels = kernel_feats[0].new_zeros((num_assign, self.num_positives, channels))
        weights = center_logits[0].new_zeros((num_assign, self.num_positives))
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
            kernels = kernels.index_put((sel, ), F.pad(level_kernels, (0, 0, 0, self.num_positives - k)))
            weights = weights.index_put((sel, ), F.pad(values, (0, self.num_positives - k)))
        return kernels, weights

    def _stuff_kernels(self, kernel_feats: List[Tensor],
                       targets: dict) -> Tuple[Tensor, Tensor, Tensor]:
        """Kernels summed over each level's binarised region, divided by the level area.

        Returns ``(M, C)`` kernels with the image and region channel of each.
        """
        kernels, imgs, classes = [], [], []
        for feats, region in zip(kernel_feats, targets['region_targets']):
            mask = (region > 0).to(feats.dtype)
            level_kernels = torch.einsum('bshw,bchw->bsc', mask, feats) / (feats.shape[-2] * feats.shape[-1])
            img, cls = torch.nonzero(mask.flatten(2).any(-1), as_tuple=True)
            kernels.append(level_kernels[img, cls])
            imgs.append(img)
            classes.append(cls)
        return torch.cat(kernels), torch.cat(imgs), torch.cat(classes)

    def predict(self, feats: Tuple[Tensor, ...],
                batch_data_samples: SampleList) -> Tuple[List[Tensor], List[Tensor], List[Tensor]]:
        """Per-level centre logits, region logits and kernel maps for ``KernelFusion``."""
        return self(feats)
