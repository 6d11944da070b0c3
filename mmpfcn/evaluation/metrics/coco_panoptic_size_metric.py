"""COCO panoptic quality, also by object size (small / medium / large)."""
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import mmcv
import numpy as np
from mmdet.evaluation.metrics import CocoPanopticMetric
from mmdet.registry import METRICS
from mmengine.fileio import get
from mmengine.logging import MMLogger, print_log
from panopticapi.utils import rgb2id
from terminaltables import AsciiTable

from ..functional import (COCO_AREA_RANGES, merge_size_stats,
                          pq_average_by_size, pq_stats_by_size)


@METRICS.register_module()
class CocoPanopticSizeMetric(CocoPanopticMetric):
    """:class:`~mmdet.evaluation.metrics.CocoPanopticMetric` plus PQ by the
    size of the objects, to see where a model loses quality.

    Returns the parent's metrics unchanged and, for each bucket ``<size>``
    of ``area_ranges``: ``PQ_<size>``, ``SQ_<size>``, ``RQ_<size>`` (all
    classes), ``PQ_th_<size>``, ``PQ_st_<size>`` (things, stuff), in percent,
    and ``num_gt_<size>``, the number of non-crowd ground truth segments.
    A TP or FN counts in the bucket of the ground truth segment's area, an
    FP in that of the predicted segment's; ``low <= area < high``. See
    :mod:`mmpfcn.evaluation.functional.pq_by_size` for the definition; a
    bucket without any class gives 0 and ``num_gt`` 0.

    Args:
        *args, **kwargs: Those of ``CocoPanopticMetric``. With
            ``outfile_prefix`` (and ``format_only``) it writes the files
            and scores as its parent, without figures by size.
        area_ranges: Bucket name to ``(low, high)`` area in pixels of the
            original image. Defaults to COCO's small < 32², medium 32²..96²,
            large >= 96².
    """

    def __init__(self,
                 *args,
                 area_ranges: Mapping[str, Sequence[float]] = COCO_AREA_RANGES,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # With ``outfile_prefix`` (a submission, ``format_only``) the parent
        # writes the files and scores all images at the end; this metric
        # then acts as its parent and gives no figures by size.
        self.by_size = self.tmp_dir is not None
        if not area_ranges:
            raise ValueError('area_ranges needs at least one bucket.')
        self.area_ranges: Dict[str, Tuple[float, float]] = {}
        for name, (low, high) in area_ranges.items():
            if not low < high:
                raise ValueError(f'area_ranges[{name!r}] = ({low}, {high}) '
                                 'is empty: low must be below high.')
            self.area_ranges[name] = (float(low), float(high))
        self._batch_predictions: List[dict] = []

    def _parse_predictions(self,
                           pred: dict,
                           img_id: int,
                           segm_file: str,
                           label2cat: Optional[dict] = None) -> dict:
        """The parent's parsing, kept for the size statistics: its segments
        are exactly those the parent's PQ scores."""
        result = super()._parse_predictions(pred, img_id, segm_file,
                                            label2cat)
        self._batch_predictions.append(result)
        return result

    def _compute_batch_pq_stats(self, data_samples: Sequence[dict]) -> None:
        """The parent's per-image ``pq_stats``, each paired with its
        statistics by size: ``self.results`` holds ``(pq_stat,
        size_stats)`` pairs, which gather across ranks as any result."""
        start = len(self.results)
        self._batch_predictions = []
        super()._compute_batch_pq_stats(data_samples)
        for i, (sample, pred) in enumerate(
                zip(data_samples, self._batch_predictions)):
            self.results[start + i] = (self.results[start + i],
                                       self._size_stats(sample, pred))
        self._batch_predictions = []

    def _categories(self) -> Dict[int, dict]:
        """Category id to info with ``isthing``, as the parent scores
        them."""
        if self._coco_api is not None:
            return self.categories
        things = self.dataset_meta['thing_classes']
        return {
            label: dict(id=label, name=name, isthing=int(name in things))
            for label, name in enumerate(self.dataset_meta['classes'])
        }

    def _size_stats(self, sample: dict, pred: dict) -> dict:
        """Size statistics of one image from the ground truth PNG and the
        predicted PNG the parent wrote, with the parent's segments."""
        segm_file = pred['file_name']
        gt_bytes = get(
            osp.join(self.seg_prefix, segm_file),
            backend_args=self.backend_args)
        pan_gt = rgb2id(
            mmcv.imfrombytes(gt_bytes, flag='color', channel_order='rgb'))
        pan_pred = rgb2id(
            mmcv.imread(
                osp.join(self.seg_out_dir, segm_file),
                flag='color',
                channel_order='rgb'))
        if self._coco_api is not None:
            gt_segments = self._coco_api.imgToAnns[pred['image_id']]
        else:
            # As the parent: a thing segment that is no single object is
            # crowd, the area is the segment's pixel count.
            categories = self._categories()
            ids, counts = np.unique(pan_gt, return_counts=True)
            area = dict(zip(ids.tolist(), counts.tolist()))
            gt_segments = [
                dict(
                    id=seg['id'],
                    category_id=seg['category'],
                    iscrowd=int(categories[seg['category']]['isthing'] == 1
                                and not seg['is_thing']),
                    area=area.get(seg['id'], 0))
                for seg in sample['segments_info']
            ]
        return pq_stats_by_size(pan_gt, pan_pred, gt_segments,
                                pred['segments_info'], self.area_ranges)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """The parent's metrics from the ``pq_stat`` halves, then PQ, SQ,
        RQ, PQ_th, PQ_st (percent) and num_gt per size bucket."""
        if not self.by_size:
            return super().compute_metrics(results)
        metrics = super().compute_metrics([pq_stat for pq_stat, _ in results])
        stats = merge_size_stats((size for _, size in results),
                                 self.area_ranges)
        by_size = pq_average_by_size(stats, self._categories())
        rows = [['size', 'PQ', 'SQ', 'RQ', 'PQ_th', 'PQ_st', 'num_gt']]
        for name, summary in by_size.items():
            values = {
                f'PQ_{name}': 100 * summary['All']['pq'],
                f'SQ_{name}': 100 * summary['All']['sq'],
                f'RQ_{name}': 100 * summary['All']['rq'],
                f'PQ_th_{name}': 100 * summary['Things']['pq'],
                f'PQ_st_{name}': 100 * summary['Stuff']['pq'],
            }
            metrics.update(values)
            # A float: MMEngine's logs keep np.float64 (a float) but drop
            # np.int64, which its message hub turns an int into.
            metrics[f'num_gt_{name}'] = float(summary['num_gt'])
            rows.append([name] + [f'{v:0.3f}' for v in values.values()] +
                        [summary['num_gt']])
        print_log(
            'Panoptic Evaluation Results by size:\n' + AsciiTable(rows).table,
            logger=MMLogger.get_current_instance())
        return metrics
