"""Panoptic FCN as one traceable graph, from image bytes to masks, for ONNX."""
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models.layers import grid_centers, position_prior


class PanopticFCNGraph(nn.Module):
    """A :class:`~mmpfcn.models.PanopticFCN` (batch of one) whose every step
    has a fixed size or a size taken from its input, so that ``torch.onnx``
    can trace it. The model's test-time views (``test_cfg.flip``,
    ``extra_scales``) are averaged in as ``PanopticFCN.predict`` does; their
    sizes are fixed when traced, so such a model exports with a static shape.

    Input: ``image``, ``(1, 3, H, W)`` uint8 in the channel order of the
    test pipeline (BGR), already resized as the test pipeline does. The
    graph normalises it, pads it to the size divisor, runs the network, picks
    the candidates (a fixed ``max_per_img // 2`` per level, padded and
    masked where a level has fewer positions, as the eager model's
    ``min(h * w, max_per_img // 2)``), fuses the kernels, re-scores the
    instances and computes at the input size:

    - ``masks`` ``(N, H, W)`` bool, ``labels`` ``(N,)`` int64, ``scores``
      ``(N,)`` float: the ``N`` instances scoring at least
      ``instance_score_thr``, in descending score order (``N <=
      max_per_img``);
    - ``region`` ``(H, W)`` int64: the stuff region channel of each pixel
      (0 is the channel of all things, ``c >= 1`` stuff label
      ``num_things_classes + c - 1``), the argmax over the kept stuff
      channels' mask probabilities;
    - ``stuff_scores`` ``(1 + S,)`` float: each channel's region score.

    The panoptic combination that follows (instances placed one by one in
    score order, each checked against those placed before it) is sequential;
    :func:`~mmpfcn.deployment.combine_panoptic` does it in numpy, as
    ``PanopticFCNFusionHead.panoptic_postprocess`` does in torch.
    """

    output_names = ('masks', 'labels', 'scores', 'region', 'stuff_scores')

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        preprocessor = model.data_preprocessor
        self.register_buffer('mean', preprocessor.mean.reshape(1, -1, 1, 1).float().clone())
        self.register_buffer('std', preprocessor.std.reshape(1, -1, 1, 1).float().clone())
        self.bgr_to_rgb = bool(preprocessor._channel_conversion)
        self.size_divisor = int(preprocessor.pad_size_divisor)
        self.pad_value = float(preprocessor.pad_value)
        head = model.panoptic_fusion_head
        self.cfg = head.test_cfg
        self.fusion = model.kernel_generator.kernel_fusion
        self.stride = head.common_stride

    def preprocess(self, image: Tensor) -> Tensor:
        """``DetDataPreprocessor`` of one image: channel order, normalisation, padding (after
        normalisation) to a multiple of the size divisor."""
        x = image.float()
        if self.bgr_to_rgb:
            x = x.flip(1)
        x = (x - self.mean) / self.std
        height, width = x.shape[-2:]
        divisor = self.size_divisor
        pad_h = (divisor - height % divisor) % divisor
        pad_w = (divisor - width % divisor) % divisor
        return F.pad(x, (0, pad_w, 0, pad_h), value=self.pad_value)

    def thing_candidates(self, center_logits, kernel_feats) -> Dict[str, Tensor]:
        """``KernelFusion.thing_candidates`` with a fixed number per level."""
        scores, labels, kernels, centers = [], [], [], []
        top_num = self.fusion.test_cfg.max_per_img // 2
        pool_sizes = self.fusion.test_cfg.center_pool_sizes
        for logits, feats, pool in zip(center_logits, kernel_feats, pool_sizes):
            _, _, h, w = logits.shape
            heat = logits.sigmoid()
            heat = (heat + F.avg_pool2d(heat, pool, stride=1, padding=(pool - 1) // 2)) / 2
            heat = heat * (F.max_pool2d(heat, 3, stride=1, padding=1) == heat).to(heat.dtype)
            flat = F.pad(heat.flatten(1), (0, top_num))  # at least top_num entries
            score, index = flat.topk(top_num, dim=1)
            # The eager model takes min(h * w, top_num) per level.
            score = torch.where(torch.arange(top_num) < h * w, score, score.new_zeros(()))
            pos = index % (h * w)
            scores.append(score)
            labels.append(torch.div(index, h * w, rounding_mode='floor'))
            centers.append(grid_centers(pos, h, w, 1.0))
            kernels.append(
                torch.gather(feats.flatten(2), 2, pos[:, None].expand(-1, feats.shape[1], -1)))
        scores = torch.cat(scores, 1)
        valid = scores > self.fusion.test_cfg.thing_score_thr
        order = torch.argsort(
            torch.where(valid, scores, scores.new_tensor(-1.0)), dim=1, descending=True)
        # Zero the kernels of padding and sub-threshold candidates: fusion weighs them by zero,
        # which a non-finite value would not survive.
        kernels = torch.where(valid[:, :, None], torch.cat(kernels, 2).transpose(1, 2),
                              scores.new_zeros(()))
        centers = torch.cat(centers, 1)
        return dict(
            scores=scores.gather(1, order),
            labels=torch.cat(labels, 1).gather(1, order),
            valid=valid.gather(1, order),
            kernels=kernels.gather(1, order[..., None].expand(-1, -1, kernels.shape[-1])),
            centers=centers.gather(1, order[..., None].expand(-1, -1, 3)))

    def instances(self, things: Dict[str, Tensor], encode_feat: Tensor) -> Tuple[Tensor, ...]:
        """Stride-4 probabilities, labels and scores of the instances scoring at least
        ``instance_score_thr``, by descending score (``mask_probabilities`` on every row)."""
        logits = torch.bmm(things['kernels'], encode_feat.flatten(2))
        if 'prior_centers' in things:
            logits = logits + position_prior(things['prior_centers'], encode_feat.shape[-2:])
        probs = logits.sigmoid()[0]
        masks = probs > self.cfg.mask_thr
        inside = torch.where(masks, probs, probs.new_zeros(())).sum(-1)
        area = masks.to(probs.dtype).sum(-1)
        scores = torch.where(things['valid'][0], things['scores'][0] * (inside / (area + 1e-6)),
                             probs.new_tensor(-1.0))
        scores, order = scores.topk(min(self.cfg.max_per_img, scores.shape[0]))
        # The first ``count`` by index, not by slicing: a traced slice would keep the count of
        # the tracing input.
        kept = torch.arange((scores >= self.cfg.instance_score_thr).sum())
        order = order[kept]
        return probs[order], things['labels'][0][order], scores[kept]

    def upsample(self, probs: Tensor, height: Tensor, width: Tensor) -> Tensor:
        """``(M, h, w)`` stride-4 maps upsampled (bilinear) and cropped to the input size."""
        full = F.interpolate(probs[None], scale_factor=float(self.stride), mode='bilinear',
                             align_corners=False)[0]
        return full[:, :height, :width]

    def forward(self, image: Tensor) -> Tuple[Tensor, ...]:
        height, width = image.shape[-2:]
        model = self.model
        inputs = self.preprocess(image)
        feats, encode_feat = model.extract_feat(inputs)
        center_logits, region_logits, kernel_feats = model.kernel_generator(feats)
        if model.test_views:  # test-time views (flip, extra scales): a static export only
            center_logits, region_logits = model.average_views(inputs, center_logits,
                                                               region_logits)
        kernel_generator = model.kernel_generator
        kernel_head = kernel_generator.kernel_head
        things = self.thing_candidates(center_logits, kernel_feats)
        things = self.fusion.fuse_thing_kernels(
            kernel_head.embed_things(things['kernels']), things['labels'], things['scores'],
            things['valid'], kernel_generator.prior_centers(things['centers']))
        stuff = self.fusion.stuff_candidates(region_logits, kernel_feats)
        stuff = self.fusion.fuse_stuff_kernels(
            kernel_head.embed_stuff(stuff['kernels']), stuff['scores'], stuff['valid'])
        feat_h, feat_w = encode_feat.shape[-2:]
        encode = encode_feat.flatten(2)
        probs, labels, scores = self.instances(things, encode_feat)
        masks = self.upsample(probs.reshape(-1, feat_h, feat_w), height, width) > self.cfg.mask_thr
        stuff_probs = torch.bmm(stuff['kernels'], encode).sigmoid()
        head = model.panoptic_fusion_head
        if self.cfg.region_prior_levels:
            stuff_probs = stuff_probs * head.region_prior(region_logits, (feat_h, feat_w))
        stuff_probs = torch.where(stuff['valid'][0][:, None], stuff_probs[0],
                                  stuff_probs.new_tensor(-1.0))
        region = self.upsample(stuff_probs.reshape(-1, feat_h, feat_w), height, width).argmax(0)
        return masks, labels, scores, region, stuff['scores'][0]
