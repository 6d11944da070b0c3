"""How closely an exported model follows the PyTorch model it came from, on one image."""
from typing import Dict

import numpy as np
import torch
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.structures import DetDataSample
from torch import nn

from .onnx_runner import OnnxPanopticRunner


def panoptic_segments(sample: DetDataSample, num_classes: int) -> Dict[int, np.ndarray]:
    """Segment id -> mask of a result's panoptic map (void left out)."""
    pan = sample.pred_panoptic_seg.sem_seg[0].numpy()
    return {int(v): pan == v for v in np.unique(pan) if v % INSTANCE_OFFSET != num_classes}


def _match_instances(ours, theirs) -> torch.Tensor:
    """For each of ``ours`` (InstanceData), the smallest score difference to an instance of
    ``theirs`` with its label and mask IoU >= 0.99 (``inf`` where there is none)."""
    a = ours.masks.flatten(1).float()
    b = theirs.masks.flatten(1).float()
    inter = a @ b.T
    union = a.sum(1, keepdim=True) + b.sum(1) - inter
    same = (ours.labels[:, None] == theirs.labels[None]) & (inter >= 0.99 * union)
    diff = (ours.scores[:, None] - theirs.scores[None]).abs()
    diff = torch.where(same, diff, diff.new_tensor(float('inf')))
    return diff.min(1).values if diff.shape[1] else diff.new_full((len(a), ), float('inf'))


def compare_with_pytorch(model: nn.Module, runner: OnnxPanopticRunner,
                         image: np.ndarray) -> Dict[str, float]:
    """Run ``model`` (eval, CPU) and ``runner`` on a network-size ``(H, W, 3)`` uint8 image.

    A PyTorch instance is matched by an ONNX instance of its class with mask
    IoU >= 0.99 and score within 1e-4, a panoptic segment by one of its class
    with IoU >= 0.99. Returns the instance and segment counts of each, how
    many of PyTorch's are matched, the largest score difference of the
    matched instances and the lowest IoU of the segments' best matches.
    """
    height, width = image.shape[:2]
    sample = DetDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width),
                                         scale_factor=(1.0, 1.0)))
    data = dict(inputs=[torch.from_numpy(image).permute(2, 0, 1).contiguous()],
                data_samples=[sample])
    with torch.no_grad():
        eager = model.eval().test_step(data)[0]
    exported = runner.results(runner.run(image), (height, width))
    ours, theirs = eager.pred_instances, exported.pred_instances
    score_diff = _match_instances(ours, theirs)
    score_diff = score_diff[score_diff <= 1e-4]
    num_classes = model.panoptic_fusion_head.num_classes
    segments = [panoptic_segments(s, num_classes) for s in (eager, exported)]
    seg_ious = []
    for seg_id, mask in segments[0].items():
        same_class = [m for i, m in segments[1].items()
                      if i % INSTANCE_OFFSET == seg_id % INSTANCE_OFFSET]
        seg_ious.append(max((np.logical_and(mask, m).sum() / np.logical_or(mask, m).sum()
                             for m in same_class), default=0.0))
    return dict(pytorch_instances=len(ours), onnx_instances=len(theirs),
                matched_instances=len(score_diff),
                max_score_diff=float(score_diff.max()) if len(score_diff) else 0.0,
                pytorch_segments=len(segments[0]), onnx_segments=len(segments[1]),
                matched_segments=int(sum(iou >= 0.99 for iou in seg_ious)),
                min_segment_iou=float(min(seg_ious, default=1.0)))
