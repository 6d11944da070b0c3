"""COCO panoptic quality, also by object size (small / medium / large), for
any dataset in COCO's panoptic format, scored by panopticapi or hotcoco."""
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import mmcv
import numpy as np
from hotcoco.panoptic import PanopticEval
from mmdet.evaluation.metrics import CocoPanopticMetric
from mmdet.evaluation.metrics.coco_panoptic_metric import (
    parse_pq_results, print_panoptic_table)
from mmdet.registry import METRICS
from mmengine.dist import get_world_size
from mmengine.fileio import get, get_local_path
from mmengine.logging import MMLogger, print_log
from panopticapi.utils import rgb2id
from terminaltables import AsciiTable

from mmpfcn.utils import PanopticAnnotations
from ..functional import (COCO_AREA_RANGES, merge_size_stats,
                          pq_average_by_size, pq_stats_by_size)

BACKENDS = ('panopticapi', 'hotcoco')


@METRICS.register_module()
class CocoPanopticSizeMetric(CocoPanopticMetric):
    """:class:`~mmdet.evaluation.metrics.CocoPanopticMetric` plus PQ by the
    size of the objects, to see where a model loses quality, on any dataset
    in COCO's panoptic format.

    Returns the parent's metrics unchanged and, for each bucket ``<size>``
    of ``area_ranges``: ``PQ_<size>``, ``SQ_<size>``, ``RQ_<size>`` (all
    classes), ``PQ_th_<size>``, ``PQ_st_<size>`` (things, stuff), in percent,
    and ``num_gt_<size>``, the number of non-crowd ground truth segments.
    A TP or FN counts in the bucket of the ground truth segment's area, an
    FP in that of the predicted segment's; ``low <= area < high``. See
    :mod:`mmpfcn.evaluation.functional.pq_by_size` for the definition; a
    bucket without any class gives 0 and ``num_gt`` 0.

    The annotation file is read as :class:`~mmpfcn.utils.PanopticAnnotations`
    (label ``i`` is the category named ``classes[i]``, whatever the file's
    order; an image's ground truth PNG is its annotation's ``file_name``),
    and a prediction's PNG takes the name of the ground truth PNG, which
    for COCO is the parent's name and for Cityscapes is the one its own
    evaluation expects.

    Args:
        ann_file: The parent's: the COCO panoptic JSON of the ground truth.
        *args, **kwargs: The rest of ``CocoPanopticMetric``'s. With
            ``outfile_prefix`` (and ``format_only``) it writes the files
            and scores as its parent, without figures by size.
        area_ranges: Bucket name to ``(low, high)`` area in pixels of the
            original image. Defaults to COCO's small < 32², medium 32²..96²,
            large >= 96².
        backend: What matches the segments when scoring without
            ``outfile_prefix``: ``'panopticapi'``, the reference, image by
            image as its parent, or ``'hotcoco'``, the same rules in Rust
            over all images at the end (needs ``ann_file``). Both give the
            same figures, per class too; hotcoco was 9x faster on the
            synthetic val split and 30x on 1024x2048 maps
            (``projects/synthetic/tools/benchmark_pq_backends.py``), so the
            default (None) is hotcoco when ``ann_file`` is given.
    """

    def __init__(self,
                 ann_file: Optional[str] = None,
                 *args,
                 area_ranges: Mapping[str, Sequence[float]] = COCO_AREA_RANGES,
                 backend: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(None, *args, **kwargs)
        if ann_file:
            with get_local_path(
                    ann_file, backend_args=self.backend_args) as local_path:
                self._coco_api = PanopticAnnotations(local_path)
            self.categories = self._coco_api.cats
        if backend is None:
            backend = 'hotcoco' if ann_file else 'panopticapi'
        if backend not in BACKENDS:
            raise ValueError(f'backend={backend!r}: choose one of {BACKENDS}')
        if backend == 'hotcoco' and not ann_file:
            raise ValueError("backend='hotcoco' needs ann_file, the ground "
                             'truth JSON it reads')
        self.backend = backend
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

    @property
    def dataset_meta(self) -> Optional[dict]:
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        """Also lists the file's categories in label order, which the
        parent's per-class table assumes."""
        CocoPanopticMetric.dataset_meta.fset(self, dataset_meta)
        if self._coco_api is not None and dataset_meta:
            cats = self._coco_api.cats
            ids = self._coco_api.get_cat_ids(
                cat_names=dataset_meta['classes'])
            self._coco_api.cats = {**{i: cats[i] for i in ids}, **cats}
            self.categories = self._coco_api.cats

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        super().process(data_batch,
                        [self._named_as_ground_truth(s) for s in data_samples])

    def _named_as_ground_truth(self, sample: dict) -> dict:
        """``sample`` whose ``img_path``, from which the parent names the
        prediction PNG, is its ground truth PNG, when one is known."""
        images = self._coco_api.imgs if self._coco_api is not None else {}
        if sample['img_id'] in images:
            name = images[sample['img_id']]['segm_file']
        elif sample.get('seg_map_path'):
            name = sample['seg_map_path']
        else:
            return sample
        return {**sample, 'img_path': name}

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
        """Per image, the parent's ``pq_stats`` (panopticapi) or the
        prediction's record (hotcoco, scored at the end), paired with its
        statistics by size: ``self.results`` holds such pairs, which gather
        across ranks as any result."""
        start = len(self.results)
        self._batch_predictions = []
        if self.backend == 'hotcoco':
            self._record_predictions(data_samples)
        else:
            super()._compute_batch_pq_stats(data_samples)
        for i, (sample, pred) in enumerate(
                zip(data_samples, self._batch_predictions)):
            self.results[start + i] = (self.results[start + i],
                                       self._size_stats(sample, pred))
        self._batch_predictions = []

    def _record_predictions(self, data_samples: Sequence[dict]) -> None:
        """Write each prediction's PNG as the parent does and keep its
        segments for :meth:`_hotcoco_metrics`; with several ranks, also the
        PNG's bytes, since rank 0 scores in its own folder."""
        cat_ids = self._coco_api.get_cat_ids(
            cat_names=self.dataset_meta['classes'])
        label2cat = dict(enumerate(cat_ids))
        for sample in data_samples:
            segm_file = osp.basename(sample['img_path']).replace(
                '.jpg', '.png')
            record = self._parse_predictions(sample, sample['img_id'],
                                             segm_file, label2cat)
            if get_world_size() > 1:
                with open(osp.join(self.seg_out_dir, segm_file), 'rb') as f:
                    record = dict(record, png=f.read())
            self.results.append(record)

    def _hotcoco_metrics(self, records: List[dict]) -> Dict[str, float]:
        """The parent's metrics from hotcoco's ``PanopticEval`` over every
        image at once (integer image ids, as it requires)."""
        images, gt_anns, pred_anns = [], [], []
        for index, record in enumerate(records):
            image = self._coco_api.imgs[record['image_id']]
            images.append(dict(image, id=index))
            gt_anns.append(
                dict(image_id=index, file_name=image['segm_file'],
                     segments_info=self._coco_api.imgToAnns[
                         record['image_id']]))
            pred_anns.append(
                dict(image_id=index, file_name=record['file_name'],
                     segments_info=record['segments_info']))
            path = osp.join(self.seg_out_dir, record['file_name'])
            if 'png' in record and not osp.exists(path):
                with open(path, 'wb') as f:
                    f.write(record['png'])
        evaluation = PanopticEval(
            dict(images=images, annotations=gt_anns,
                 categories=list(self.categories.values())),
            dict(annotations=pred_anns),
            gt_folder=self.seg_prefix,
            pred_folder=self.seg_out_dir)
        evaluation.evaluate()
        scores = evaluation.results()
        pq_results = {name: scores[name] for name in ('All', 'Things', 'Stuff')}
        classwise = {cat_id: scores['per_class'][cat_id]
                     for cat_id in self.categories}
        print_panoptic_table(
            pq_results,
            dict(zip(self.dataset_meta['classes'], classwise.values()))
            if self.classwise else None,
            logger=MMLogger.get_current_instance())
        return parse_pq_results(pq_results)

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
        """The parent's metrics from the scored halves (by ``backend``), then
        PQ, SQ, RQ, PQ_th, PQ_st (percent) and num_gt per size bucket."""
        if not self.by_size:
            return super().compute_metrics(results)
        scored = [result for result, _ in results]
        metrics = (self._hotcoco_metrics(scored) if self.backend == 'hotcoco'
                   else super().compute_metrics(scored))
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
