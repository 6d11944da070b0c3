"""Thing and stuff candidates of Panoptic FCN and the fusion of their kernels."""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmdet.utils import OptConfigType
from mmengine.model import BaseModule
from torch import Tensor

from ..layers import grid_centers, max_pool3x3, pool_region_kernels
from ..utils.test_cfg import own_test_cfg


@MODELS.register_module()
class KernelFusion(BaseModule):
    """Candidates of each image and the fusion of their kernels (paper Sec. 3.4).

    Thing candidates are the centre-map peaks of every level, stuff candidates
    the region classes of every level; all images of a batch are processed
    together, candidates padded per image and carried with validity masks.
    ``KernelGenerator`` embeds the candidates' kernels (its kernel head owns
    the embeddings) between selection and fusion.

    Args:
        test_cfg (dict, optional): Inference settings; the keys this module
            reads and their defaults (the paper's) are in ``default_test_cfg``:
            ``center_pool_sizes`` (average-pool size per level for centre
            smoothing, ``(c + avgpool(c)) / 2``), ``max_per_img`` (TOP_NUM:
            half of it is the per-level cap on thing candidates),
            ``thing_score_thr`` / ``stuff_score_thr`` (candidate score
            thresholds), ``similarity_thr`` (cosine similarity above which
            thing kernels are fused) and ``class_specific`` (fuse only kernels
            of the same class).
    """

    default_test_cfg = dict(
        center_pool_sizes=(3, 3, 3, 5, 5),
        max_per_img=100,
        thing_score_thr=0.05,
        stuff_score_thr=0.05,
        similarity_thr=0.9,
        class_specific=True)

    def __init__(self, test_cfg: OptConfigType = None, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        cfg = own_test_cfg('KernelFusion', self.default_test_cfg, test_cfg,
                           ['thing_score_thr', 'stuff_score_thr'])
        if not -1.0 <= cfg.similarity_thr <= 1.0:
            raise ValueError('KernelFusion: test_cfg.similarity_thr must be in [-1, 1], got '
                             f'{cfg.similarity_thr}')
        self.test_cfg = cfg

    def thing_candidates(self, center_logits: List[Tensor],
                         kernel_feats: List[Tensor]) -> Dict[str, Tensor]:
        """Centre peaks of all levels, sorted by score per image.

        Returns ``scores``, ``labels``, ``valid`` ``(B, N)``, ``kernels``
        ``(B, N, C)``, the ``(B, N, 3)`` :func:`grid_centers` of their
        positions (sigma one cell) and, for inspection, ``levels`` and flat
        ``positions``.
        """
        pool_sizes = self.test_cfg.center_pool_sizes
        if len(center_logits) != len(pool_sizes):
            raise ValueError(f'KernelFusion: {len(pool_sizes)} test_cfg.center_pool_sizes for '
                             f'{len(center_logits)} levels')
        scores, labels, kernels, levels, positions, centers = [], [], [], [], [], []
        for level, (logits, feats, pool) in enumerate(zip(center_logits, kernel_feats, pool_sizes)):
            num_imgs, _, h, w = logits.shape
            heat = logits.sigmoid()
            heat = (heat + F.avg_pool2d(heat, pool, stride=1, padding=(pool - 1) // 2)) / 2
            heat = heat * (max_pool3x3(heat) == heat)
            top_num = min(h * w, self.test_cfg.max_per_img // 2)
            score, index = heat.flatten(1).topk(top_num, dim=1)
            pos = index % (h * w)
            scores.append(score)
            labels.append(torch.div(index, h * w, rounding_mode='floor'))
            positions.append(pos)
            levels.append(torch.full_like(pos, level))
            centers.append(grid_centers(pos, h, w, 1.0))
            kernels.append(
                torch.gather(feats.flatten(2), 2, pos[:, None].expand(-1, feats.shape[1], -1)))
        scores = torch.cat(scores, 1)
        valid = scores > self.test_cfg.thing_score_thr
        order = torch.argsort(
            torch.where(valid, scores, scores.new_tensor(-1.0)), dim=1, descending=True)
        kernels = torch.cat(kernels, 2).transpose(1, 2)
        centers = torch.cat(centers, 1)
        return dict(
            scores=scores.gather(1, order),
            labels=torch.cat(labels, 1).gather(1, order),
            valid=valid.gather(1, order),
            levels=torch.cat(levels, 1).gather(1, order),
            positions=torch.cat(positions, 1).gather(1, order),
            centers=centers.gather(1, order[..., None].expand(-1, -1, 3)),
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
            valid.append((count > 0) & (score > self.test_cfg.stuff_score_thr))
            kernels.append(pool_region_kernels(onehot, feats))
        return dict(scores=torch.stack(scores, 1), valid=torch.stack(valid, 1),
                    kernels=torch.stack(kernels, 1))

    def fuse_thing_kernels(self, kernels: Tensor, labels: Tensor, scores: Tensor, valid: Tensor,
                           prior_centers: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Average same-class kernels with cosine similarity >= ``test_cfg.similarity_thr``.

        Candidates are in descending score order. ``A[i, j]`` links ``i <= j``;
        ``j`` survives iff no earlier candidate links to it, and each survivor
        ``i`` averages every ``j`` whose first link is ``i``. Class, score and
        (given ``(B, N, 3)`` ``prior_centers``) prior centre are those of the
        survivor. Output keeps the order of the survivors.
        """
        # Index comparisons rather than triu / diagonal / a stable sort, which ONNX lacks for bool.
        num = kernels.shape[1]
        rank = torch.arange(num, device=kernels.device)
        normed = kernels / kernels.norm(dim=-1, keepdim=True).clamp(min=1e-8)
        links = torch.bmm(normed, normed.transpose(1, 2)) >= self.test_cfg.similarity_thr
        links = links & (rank[:, None] <= rank) & valid[:, :, None] & valid[:, None, :]
        if self.test_cfg.class_specific:
            links = links & (labels[:, :, None] == labels[:, None, :])
        first = torch.cumsum(links.int(), dim=1) < 2
        keep = (first & (rank[:, None] == rank)).any(2) & valid  # first[:, i, i]
        members = (links & first & keep[:, :, None]).to(kernels.dtype)
        fused = torch.bmm(members, kernels) / members.sum(-1, keepdim=True).clamp(min=1)
        # Survivors first, each group in its order (unique keys: any sort keeps that order).
        order = torch.argsort((~keep).long() * num + rank, dim=1)
        fused_things = dict(
            kernels=fused.gather(1, order[..., None].expand(-1, -1, fused.shape[-1])),
            labels=labels.gather(1, order),
            scores=scores.gather(1, order),
            valid=keep.gather(1, order))
        if prior_centers is not None:
            fused_things['prior_centers'] = prior_centers.gather(
                1, order[..., None].expand(-1, -1, prior_centers.shape[-1]))
        return fused_things

    @staticmethod
    def fuse_stuff_kernels(kernels: Tensor, scores: Tensor, valid: Tensor) -> Dict[str, Tensor]:
        """Average each region class's embedded kernels and scores over the levels where it was
        kept."""
        weight = valid.to(kernels.dtype)
        count = weight.sum(1)
        return dict(
            kernels=(kernels * weight[..., None]).sum(1) / count.clamp(min=1)[..., None],
            scores=(scores * weight).sum(1) / count.clamp(min=1),
            valid=count > 0)
