"""Time the panoptic evaluators side by side, in one run, on the same files:
panopticapi (the reference) and hotcoco (Rust), on the synthetic val split
and on a Cityscapes-sized case (its maps enlarged to 1024x2048).

    python projects/synthetic/tools/benchmark_pq_backends.py --out work_dirs/pq_backends.json

Each case (``make_evaluation_case``: crowd objects, void pixels, an all-void
image, empty and wrong predictions) is scored

- by panopticapi image by image in this process, as ``CocoPanopticSizeMetric``
  does by default during validation (``per image``);
- by panopticapi's ``pq_compute`` on all cores (``all cores``);
- by ``hotcoco.panoptic.pq_compute`` (``hotcoco``), as the metric's
  ``backend='hotcoco'`` does at the end;

and the figures must agree: the largest difference over All / Things / Stuff
and every class is printed. Times are medians of ``--repeat`` runs.
"""
import argparse
import contextlib
import io
import json
import os
import os.path as osp
import platform
import statistics
import tempfile
import time
from typing import Callable, Dict

from hotcoco.panoptic import pq_compute as hotcoco_pq_compute
from mmdet.evaluation.functional import pq_compute_single_core
from panopticapi.evaluation import PQStat, pq_compute

from projects.synthetic.synthetic_panoptic import (DATA_ROOT, DEFAULT_NUM_VAL,
                                                   generate_synthetic_panoptic)
from projects.synthetic.synthetic_panoptic.evaluation_cases import \
    make_evaluation_case
from projects.synthetic.synthetic_panoptic.machine import cpu_summary


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data-root', default=DATA_ROOT,
                        help='synthetic dataset (its val split is generated there if missing)')
    parser.add_argument('--cityscapes-images', type=int, default=100,
                        help='images of the Cityscapes-sized case (its val split has 500)')
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--out', help='also write the results as JSON here')
    return parser.parse_args()


def per_image(paths: Dict[str, str]) -> dict:
    """panopticapi's matching image by image in this process, as the metric."""
    with open(paths['gt_json']) as f:
        gt = json.load(f)
    with open(paths['pred_json']) as f:
        preds = {ann['image_id']: ann for ann in json.load(f)['annotations']}
    categories = {cat['id']: cat for cat in gt['categories']}
    stat = PQStat()
    for ann in gt['annotations']:
        stat += pq_compute_single_core(0, [(ann, preds[ann['image_id']])], paths['gt_folder'],
                                       paths['pred_folder'], categories)
    results = {}
    for name, isthing in (('All', None), ('Things', True), ('Stuff', False)):
        results[name], per_class = stat.pq_average(categories, isthing=isthing)
        if name == 'All':
            results['per_class'] = per_class
    return results


def all_cores(paths: Dict[str, str]) -> dict:
    return pq_compute(paths['gt_json'], paths['pred_json'], paths['gt_folder'],
                      paths['pred_folder'])


def hotcoco(paths: Dict[str, str]) -> dict:
    return hotcoco_pq_compute(paths['gt_json'], paths['pred_json'], paths['gt_folder'],
                              paths['pred_folder'])


def largest_difference(a: dict, b: dict) -> float:
    """Largest absolute difference of PQ / SQ / RQ over the groups and classes."""
    pairs = [(a[g], b[g]) for g in ('All', 'Things', 'Stuff')]
    pairs += [(a['per_class'][c], b['per_class'][c]) for c in a['per_class']]
    return max(abs(x[k] - y[k]) for x, y in pairs for k in ('pq', 'sq', 'rq'))


def timed(evaluate: Callable[[Dict[str, str]], dict], paths: Dict[str, str],
          repeat: int) -> tuple:
    """(median seconds, last result); the evaluators' own printing is hushed."""
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            result = evaluate(paths)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def main() -> None:
    args = parse_args()
    if not osp.isfile(osp.join(args.data_root, 'annotations', 'panoptic_val.json')):
        generate_synthetic_panoptic(args.data_root, num_train=1, num_val=DEFAULT_NUM_VAL)
    source = (osp.join(args.data_root, 'annotations', 'panoptic_val.json'),
              osp.join(args.data_root, 'annotations', 'panoptic_val'))
    report = dict(cpu=cpu_summary(), cores=os.cpu_count(), python=platform.python_version(),
                  cases={})
    with tempfile.TemporaryDirectory() as work:
        cases = {'synthetic val': make_evaluation_case(*source, osp.join(work, 'synthetic'))}
        with open(source[0]) as f:
            subset = json.load(f)
        subset['annotations'] = subset['annotations'][:args.cityscapes_images]
        subset_json = osp.join(work, 'subset.json')
        with open(subset_json, 'w') as f:
            json.dump(subset, f)
        cases['Cityscapes-sized'] = make_evaluation_case(
            subset_json, source[1], osp.join(work, 'cityscapes'), scale=(4, 8))
        for name, paths in cases.items():
            with open(paths['gt_json']) as f:
                images = json.load(f)['images']
            row = dict(images=len(images), size=f'{images[0]["height"]}x{images[0]["width"]}')
            results = {}
            for evaluator, function in (('per image', per_image), ('all cores', all_cores),
                                        ('hotcoco', hotcoco)):
                row[f'{evaluator} s'], results[evaluator] = timed(function, paths, args.repeat)
            row['per image / hotcoco'] = row['per image s'] / row['hotcoco s']
            row['all cores / hotcoco'] = row['all cores s'] / row['hotcoco s']
            row['largest difference'] = max(
                largest_difference(results['per image'], results[other])
                for other in ('all cores', 'hotcoco'))
            row['PQ'] = 100 * results['hotcoco']['All']['pq']
            report['cases'][name] = row
            print(f'{name}: ' + ', '.join(
                f'{k} {v:.4g}' if isinstance(v, float) else f'{k} {v}' for k, v in row.items()))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)


if __name__ == '__main__':
    main()
