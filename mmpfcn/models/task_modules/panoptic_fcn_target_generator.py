"""Training targets of Panoptic FCN, built for the whole batch at once."""
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.registry import TASK_UTILS
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import InstanceList
from torch import Tensor


def gaussian_radius(widths: Tensor, heights: Tensor, min_overlap: float) -> Tensor:
    """CornerNet's radius: the smallest of its three overlap cases."""
    b1 = heights + widths
    c1 = widths * heights * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + torch.sqrt(b1**2 - 4 * c1)) / 2
    b2 = 2 * (heights + widths)
    c2 = (1 - min_overlap) * widths * heights
    r2 = (b2 + torch.sqrt(b2**2 - 16 * c2)) / 2
    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (heights + widths)
    c3 = (min_overlap - 1) * widths * heights
    r3 = (b3 + torch.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return torch.minimum(r1, torch.minimum(r2, r3))


@TASK_UTILS.register_module()
class PanopticFCNTargetGenerator:
    """Assign things to FPN levels and build centre, region and mask targets.

    Follows the authors' ``GenerateGT``: instances go to every level whose
    ``(lo, hi)`` range holds the square root of their box area; a Gaussian
    with CornerNet's radius (``min_overlap``) and ``sigma = diameter /
    gaussian_sigma`` is drawn at the mask's mass centre on the level grid;
    stuff-region targets are the stride-``common_stride`` one-hot semantic map
    (channel 0 = all things, 1..S = stuff classes, ignore pixels all-zero)
    resized to each level and zeroed below 0.5. Every step is one tensor
    operation over all instances of the batch.

    Bilinear down-sampling by an even integer stride with
    ``align_corners=False`` is the mean of two rows and two columns per output
    pixel; masks and semantic maps are reduced that way, which equals
    ``F.interpolate`` exactly without materialising full-size one-hot maps.
    """

    def __init__(self,
                 num_things_classes: int,
                 num_stuff_classes: int,
                 instance_scales: Sequence[Tuple[float, float]] = (
                     (1, 64), (32, 128), (64, 256), (128, 512), (256, 2048)),
                 min_overlap: float = 0.7,
                 gaussian_sigma: float = 3.0,
                 common_stride: int = 4,
                 ignore_index: int = 255) -> None:
        if common_stride % 2:
            raise ValueError(f'PanopticFCNTargetGenerator: common_stride must be even, '
                             f'got {common_stride}')
        if not 0.0 <= min_overlap <= 1.0:
            raise ValueError(f'PanopticFCNTargetGenerator: min_overlap must be in [0, 1], '
                             f'got {min_overlap}')
        self.num_things_classes = num_things_classes
        self.num_stuff_classes = num_stuff_classes
        self.instance_scales = [tuple(float(v) for v in s) for s in instance_scales]
        self.min_overlap = min_overlap
        self.gaussian_sigma = gaussian_sigma
        self.common_stride = common_stride
        self.ignore_index = ignore_index

    def _samples(self, maps: Tensor) -> List[Tensor]:
        """The four ``(..., H/s, W/s)`` grids of pixels whose mean is the bilinear down-sample:
        rows and columns ``s/2 - 1`` and ``s/2`` of every ``s x s`` cell."""
        half, stride = self.common_stride // 2, self.common_stride
        return [
            maps[..., r::stride, :][..., c::stride]
            for r in (half - 1, half) for c in (half - 1, half)
        ]

    def downsample_masks(self, masks: Tensor) -> Tensor:
        """``(N, H, W)`` binary masks -> ``(N, H/s, W/s)`` soft masks (only sampled pixels are read)."""
        return sum(sample.float() for sample in self._samples(masks)) / 4

    def region_maps(self, sem_seg: Tensor) -> Tensor:
        """``(B, H, W)`` MMDet labels -> ``(B, 1 + S, H/s, W/s)`` soft region maps."""
        regions = self.num_stuff_classes + 1
        num_imgs = sem_seg.shape[0]
        out = None
        for sample in self._samples(sem_seg):
            channel = (sample.long() - self.num_things_classes + 1).clamp(min=0)
            channel[(sample == self.ignore_index) | (channel > self.num_stuff_classes)] = regions
            if out is None:
                out = sem_seg.new_zeros((num_imgs, regions + 1, sample[0].numel()), dtype=torch.float)
            out.scatter_add_(1, channel.reshape(num_imgs, 1, -1),
                             out.new_full((num_imgs, 1, sample[0].numel()), 0.25))
        return out[:, :regions].reshape(num_imgs, regions, *sample.shape[-2:])

    def draw_heatmaps(self, num_imgs: int, size: Tuple[int, int], img_inds: Tensor,
                      labels: Tensor, centers: Tensor, radii: Tensor) -> Tensor:
        """Max-combine one Gaussian per assignment into ``(B, T, h, w)`` heatmaps."""
        h, w = size
        device = centers.device
        heat = torch.zeros(num_imgs * self.num_things_classes, h * w, device=device)
        if centers.numel():
            ys = torch.arange(h, device=device, dtype=torch.float)
            xs = torch.arange(w, device=device, dtype=torch.float)
            dy = ys[None] - centers[:, 1:2]
            dx = xs[None] - centers[:, 0:1]
            sigma = (2 * radii + 1) / self.gaussian_sigma
            two_var = (2 * sigma * sigma)[:, None, None]
            gauss = torch.exp(-(dy[:, :, None]**2 + dx[:, None, :]**2) / two_var)
            window = (dy.abs() <= radii[:, None])[:, :, None] & (dx.abs() <= radii[:, None])[:, None, :]
            gauss = (gauss * window).reshape(len(centers), -1)
            rows = (img_inds * self.num_things_classes + labels)[:, None].expand(-1, h * w)
            heat.scatter_reduce_(0, rows, gauss, reduce='amax')
        return heat.reshape(num_imgs, self.num_things_classes, h, w)

    @torch.no_grad()
    def __call__(self, batch_gt_instances: InstanceList, batch_gt_sem_seg: Tensor,
                 batch_input_shape: Tuple[int, int], level_sizes: List[Tuple[int, int]],
                 encode_size: Tuple[int, int]) -> Dict[str, object]:
        """Build the targets of a batch.

        Args:
            batch_gt_instances (list[InstanceData]): ``labels``, ``bboxes`` and
                ``masks`` (padded to the batch shape) of each image's things.
            batch_gt_sem_seg (Tensor): ``(B, H, W)`` MMDet labels, ignore = 255.
            batch_input_shape (tuple): Padded input ``(H, W)``.
            level_sizes (list[tuple]): ``(h, w)`` of each kernel-generator level.
            encode_size (tuple): ``(H/s, W/s)`` of the encoded feature.

        Returns:
            dict: ``center_heatmaps`` and ``region_targets`` (lists over levels),
            ``inst_masks`` ``(N, H/s, W/s)`` soft masks of all instances,
            ``assign_inst`` / ``assign_img`` / ``assign_level`` /
            ``assign_label`` / ``assign_center`` describing every
            (instance, level) assignment, and ``sem_masks``
            ``(B, 1 + S, H/s, W/s)``.
        """
        if len(level_sizes) != len(self.instance_scales):
            raise ValueError(f'PanopticFCNTargetGenerator: {len(self.instance_scales)} '
                             f'instance_scales for {len(level_sizes)} levels')
        pad_h, pad_w = batch_input_shape
        if (pad_h // self.common_stride, pad_w // self.common_stride) != tuple(encode_size):
            raise ValueError(f'PanopticFCNTargetGenerator: padded input {pad_h}x{pad_w} does not '
                             f'match the encoded feature {tuple(encode_size)} at stride '
                             f'{self.common_stride}; pad inputs to a multiple of 32')
        device = batch_gt_sem_seg.device
        num_imgs = len(batch_gt_instances)
        sem_masks = self.region_maps(batch_gt_sem_seg)

        masks = torch.cat([
            F.pad(inst.masks.to_tensor(torch.bool, device),
                  (0, pad_w - inst.masks.width, 0, pad_h - inst.masks.height))
            for inst in batch_gt_instances
        ]) if num_imgs else sem_masks.new_zeros((0, pad_h, pad_w))
        masks = masks.reshape(-1, pad_h, pad_w)
        boxes = torch.cat([get_box_tensor(inst.bboxes).reshape(-1, 4) for inst in batch_gt_instances])
        labels = torch.cat([inst.labels for inst in batch_gt_instances]).to(device)
        img_of_inst = torch.cat([
            torch.full((len(inst), ), i, dtype=torch.long, device=device)
            for i, inst in enumerate(batch_gt_instances)
        ])
        boxes = boxes.to(device)
        inst_masks = self.downsample_masks(masks)

        # Mass centre (x, y) of each stride-s mask; the box centre for masks too small to survive.
        nonzero = (inst_masks > 0).float()
        count = nonzero.sum((1, 2))
        ys = torch.arange(encode_size[0], device=device, dtype=torch.float)
        xs = torch.arange(encode_size[1], device=device, dtype=torch.float)
        mass = torch.stack([(nonzero.sum(1) * xs).sum(1), (nonzero.sum(2) * ys).sum(1)], 1)
        box_center = (boxes[:, :2] + boxes[:, 2:]) / 2 / self.common_stride
        centers = torch.where(count[:, None] > 0, mass / count.clamp(min=1)[:, None], box_center)

        wh = boxes[:, 2:] - boxes[:, :2]
        scale = torch.sqrt(wh[:, 0] * wh[:, 1])
        ranges = boxes.new_tensor(self.instance_scales)
        in_range = (scale[:, None] >= ranges[:, 0]) & (scale[:, None] <= ranges[:, 1])
        assign_inst, assign_level = torch.nonzero(in_range, as_tuple=True)
        assign_img = img_of_inst[assign_inst]
        assign_label = labels[assign_inst]

        sizes = boxes.new_tensor(level_sizes)
        level_hw = sizes[assign_level]
        level_center = centers[assign_inst] * torch.stack(
            [level_hw[:, 1] / encode_size[1], level_hw[:, 0] / encode_size[0]], 1)
        level_center = torch.minimum(level_center.floor().clamp(min=0), level_hw.flip(1) - 1)
        level_wh = wh[assign_inst] * torch.stack([level_hw[:, 1] / pad_w, level_hw[:, 0] / pad_h], 1)
        radii = gaussian_radius(level_wh[:, 0], level_wh[:, 1], self.min_overlap).clamp(min=0).floor()

        center_heatmaps, region_targets = [], []
        for level, size in enumerate(level_sizes):
            sel = assign_level == level
            center_heatmaps.append(
                self.draw_heatmaps(num_imgs, size, assign_img[sel], assign_label[sel],
                                   level_center[sel], radii[sel]))
            region = F.interpolate(sem_masks, size=size, mode='bilinear', align_corners=False)
            region = region.clamp(max=1.0)
            region_targets.append(region * (region >= 0.5))
        return dict(
            center_heatmaps=center_heatmaps,
            region_targets=region_targets,
            inst_masks=inst_masks,
            assign_inst=assign_inst,
            assign_img=assign_img,
            assign_level=assign_level,
            assign_label=assign_label,
            assign_center=level_center.long(),
            sem_masks=sem_masks)
