"""Benchmark several detector configs side by side: parameters, FLOPs,
network-forward and end-to-end latency, images per second, peak memory and,
with ``--eval``, PQ / SQ / RQ; one table, a JSON file and a speed-accuracy
plot (end-to-end latency against PQ, or against FLOPs / parameters without
``--eval``).

Each positional argument is ``CONFIG[:CHECKPOINT]``: a config of this project
or of MMDetection (``mmdet::panoptic_fpn/panoptic-fpn_r50_fpn_1x_coco.py``),
optionally followed by a colon and a checkpoint path or URL. Without a
checkpoint the model keeps its random initialisation (pretrained backbones
are never downloaded). Ratios in the table are to the first config.

Inputs are the same for every model: without ``--eval`` deterministic
synthetic images of ``--shape`` (no dataset pipeline); with ``--eval`` the
first ``--num-images`` images of each config's test split through its own
test pipeline (``--data-root`` moves the split and the evaluator's files).
FLOPs are always counted on a synthetic image of ``--shape``.

What is timed (batch size 1, median and p90 over ``--num-images`` after
``--warmup`` runs):

- "forward": ``model(inputs, data_samples, mode='tensor')`` on the data
  preprocessor's output: backbone, neck and heads up to their raw outputs.
  MMDetection's two-stage models also run their RoI heads, mask head
  included, on all RPN proposals there, so their forward (and FLOPs) can
  exceed their e2e.
- "e2e": ``model.test_step``: data preprocessing (device transfer,
  normalisation, padding), forward and post-processing into
  ``DetDataSample`` predictions. Reading and resizing images is not timed.

``--amp`` runs both under fp16 autocast (CUDA only). Peak memory is the
process's peak RSS per model on CPU (interpreter and libraries included) or
``torch.cuda.max_memory_allocated`` on CUDA.

Example::

    python tools/analysis_tools/benchmark.py \\
        configs/panoptic_fcn/panoptic-fcn_r50_fpn_1x_coco.py:work_dirs/pfcn.pth \\
        mmdet::panoptic_fpn/panoptic-fpn_r50_fpn_1x_coco.py \\
        --shape 800 1333 --num-images 20 --warmup 5 --threads 8
"""
import argparse
import os.path as osp
from typing import List, Optional

import torch
from mmengine.config import DictAction
from mmengine.logging import MMLogger

import mmpfcn  # noqa: F401  (registers components, safe checkpoint loading)
from mmpfcn.utils.benchmark import (ModelSpec, Settings, describe_settings,
                                    format_table, plot_speed_accuracy,
                                    run_benchmark, write_json)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command line of the tool."""
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('models', nargs='+', type=ModelSpec.parse,
                        metavar='CONFIG[:CHECKPOINT]',
                        help='configs to compare, each with an optional '
                        'checkpoint after a colon')
    parser.add_argument('--shape', type=int, nargs=2, default=[800, 1333],
                        metavar=('H', 'W'),
                        help='size of the synthetic images and of the FLOPs '
                        'input (padded to the size divisor)')
    parser.add_argument('--num-images', type=int, default=20,
                        help='timed (and evaluated) images per model')
    parser.add_argument('--warmup', type=int, default=5,
                        help='untimed runs before timing')
    parser.add_argument('--threads', type=int,
                        help='torch.set_num_threads (default: torch\'s)')
    parser.add_argument('--device', default='cpu',
                        help='cpu, cuda or cuda:N')
    parser.add_argument('--amp', action='store_true',
                        help='time under fp16 autocast (CUDA only)')
    parser.add_argument('--eval', action='store_true',
                        help='use the test split and report PQ / SQ / RQ')
    parser.add_argument('--data-root',
                        help='data root of the test split (with --eval)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the synthetic images')
    parser.add_argument('--work-dir', default='work_dirs/benchmark',
                        help='folder of the default outputs')
    parser.add_argument('--out-json',
                        help='results (default: WORK_DIR/benchmark.json)')
    parser.add_argument('--out-png',
                        help='speed-accuracy plot '
                        '(default: WORK_DIR/benchmark.png)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='key=value overrides applied to every config')
    args = parser.parse_args(argv)
    if args.num_images < 1 or args.warmup < 0:
        parser.error('--num-images must be >= 1 and --warmup >= 0')
    if args.data_root and not args.eval:
        parser.error('--data-root needs --eval')
    if args.amp and not args.device.startswith('cuda'):
        parser.error('--amp needs a CUDA device (mmcv\'s CPU ops have no '
                     'half-precision kernels)')
    return args


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    # Current logger from here on: keeps MMEngine's info messages quiet.
    MMLogger.get_instance('mmpfcn_benchmark', log_level='WARNING')
    settings = Settings(
        shape=tuple(args.shape), num_images=args.num_images,
        warmup=args.warmup, device=args.device, amp=args.amp,
        evaluate=args.eval, data_root=args.data_root,
        cfg_options=args.cfg_options, seed=args.seed)
    print(', '.join(f'{key}: {value}'
                    for key, value in describe_settings(settings).items()))
    records = run_benchmark(args.models, settings)
    out_json = args.out_json or osp.join(args.work_dir, 'benchmark.json')
    out_png = args.out_png or osp.join(args.work_dir, 'benchmark.png')
    write_json(out_json, settings, records)
    plot_speed_accuracy(out_png, settings, records)
    print(f'\n{format_table(records)}\n\n'
          'forward: model(..., mode="tensor") after preprocessing; '
          'e2e: model.test_step (preprocessing, forward, post-processing); '
          'ratios to the first row\n'
          f'json: {out_json}\nplot: {out_png}')


if __name__ == '__main__':
    main()
