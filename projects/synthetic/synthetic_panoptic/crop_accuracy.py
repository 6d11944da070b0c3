"""Top-1 accuracy of one label per sample, overall and per class."""
from typing import Dict, List, Sequence

import numpy as np
from mmdet.registry import METRICS
from mmengine.evaluator import BaseMetric


@METRICS.register_module()
class CropAccuracy(BaseMetric):
    """Top-1 accuracy (percent) of :class:`CropClassifier`:
    the first ``pred_instances.labels`` of each sample against its first
    ``gt_instances.labels``.

    Returns ``accuracy`` over all samples, ``mean_class_accuracy`` (the
    unweighted mean over the classes present) and ``accuracy_<class>`` for
    every class named in ``dataset_meta['classes']``.
    """

    default_prefix = 'crop'

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append(
                (int(sample['gt_instances']['labels'][0]),
                 int(sample['pred_instances']['labels'][0])))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        truth, pred = np.array(results, dtype=np.int64).reshape(-1, 2).T
        correct = truth == pred
        classes = (self.dataset_meta or {}).get('classes') or tuple(
            str(c) for c in range(truth.max() + 1))
        metrics = {'accuracy': 100 * correct.mean()}
        per_class = {
            name: 100 * correct[truth == label].mean()
            for label, name in enumerate(classes) if (truth == label).any()
        }
        metrics['mean_class_accuracy'] = float(np.mean(list(per_class.values())))
        metrics.update({f'accuracy_{name}': acc for name, acc in per_class.items()})
        return metrics
