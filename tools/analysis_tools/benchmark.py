"""Benchmark several detector configs side by side: parameters, FLOPs,
network-forward and end-to-end latency, images per second, peak memory and,
with ``--eval``, PQ / SQ / RQ; one table, a JSON file and a speed-accuracy
plot (end-to-end latency against PQ, or against FLOPs / parameters without
``--eval``).

Each positional argument is ``CONFIG[:CHECKPOINT]``: a config of this project
or of MMDetection (``mmdet::panoptic_fpn/panoptic-fpn_r50_fpn_1x_coco.py``),
optionally followed by a colon and a checkpoint path or URL. Without a
checkpoint the model keeps its random initialisation (pretrained backbones
are never downloaded). A checkpoint ending in ``.onnx`` is the config's model
exported by ``tools/deployment/pytorch2onnx.py``: it runs in onnxruntime on
``--threads`` threads, its forward is the whole graph and its FLOPs are not
counted. Ratios in the table are to the first config.

Inputs are the same for every model: without ``--eval`` deterministic
synthetic scenes resized to ``--shape`` (no dataset pipeline); with ``--eval``
the first ``--num-images`` images of each config's test split through its own
test pipeline (``--data-root`` moves the split and the evaluator's files).
FLOPs are always counted on a synthetic image of ``--shape``. What each
figure includes: ``docs/benchmark.md``.

Example::

    python tools/analysis_tools/benchmark.py \\
        configs/panoptic_fcn/panoptic-fcn_r50_fpn_8xb2-ms-1x_coco.py:work_dirs/pfcn.pth \\
        mmdet::panoptic_fpn/panoptic-fpn_r50_fpn_1x_coco.py \\
        --shape 800 1333 --num-images 20 --warmup 5 --threads 8
"""
import argparse
import json
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.logging import MMLogger

import mmpfcn  # noqa: F401  (registers components, safe checkpoint loading)
from mmpfcn.apis import CfgOptionsAction
from mmpfcn.apis.benchmark import (FIGURES, PQ_KEYS, ModelSpec, Record,
                                   Settings, numeric_figures, run_benchmark)
from projects.synthetic.synthetic_panoptic import render_images
from tools.analysis_tools.report import (FIGURE_COLUMNS, format_figure,
                                         format_table)


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
    parser.add_argument('--channels-last', action='store_true',
                        help='weights (and so activations) in NHWC memory '
                        'format, as tensor-core convolutions prefer')
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
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
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


def results_table(records: Sequence[Record]) -> str:
    """One row per model, each figure with its ratio to the first model's;
    PQ columns where the first model was evaluated."""
    keys = list(FIGURES) + (list(PQ_KEYS) if records[0]['metrics'] else [])
    rows = []
    for record in records:
        figures, ratios = numeric_figures(record), record['ratios']
        rows.append([record['name']] + [
            format_figure(key, figures.get(key)) +
            ('' if figures.get(key) is None or ratios.get(key) is None else
             f' ({ratios[key]:.2f}x)') for key in keys
        ])
    return format_table(['model'] + [FIGURE_COLUMNS[key][0] for key in keys],
                        rows)


def describe_settings(settings: Settings) -> Dict[str, Any]:
    """The run's conditions for the header and the JSON."""
    device = settings.device
    if device.startswith('cuda'):
        device += f' ({torch.cuda.get_device_name(device)})'
    return dict(
        device=device,
        threads=torch.get_num_threads(),
        amp=settings.amp,
        channels_last=settings.channels_last,
        shape=list(settings.shape),
        inputs='dataset (each config\'s test pipeline)'
        if settings.evaluate else 'synthetic (resized to shape)',
        num_images=settings.num_images,
        warmup=settings.warmup,
        batch_size=1,
        torch=torch.__version__)


def write_json(path: str, settings: Settings,
               records: Sequence[Record]) -> None:
    """Settings and records as JSON."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(dict(settings=describe_settings(settings),
                       models=list(records)), f, indent=2)


def plot_y(records: Sequence[Record],
           shape: Tuple[int, int]) -> Tuple[List[float], str]:
    """PQ where every model has it, else GFLOPs, else parameters; with the
    axis label."""
    if all(r['metrics'] for r in records):
        return [r['metrics']['PQ'] for r in records], 'PQ (%)'
    if all(r['flops'] for r in records):
        return [r['flops'] / 1e9 for r in records], \
            f'GFLOPs at {shape[0]}x{shape[1]} (no PQ: not evaluated)'
    return [r['params'] / 1e6 for r in records], \
        'parameters (M) (no PQ: not evaluated)'


def plot_speed_accuracy(path: str, settings: Settings,
                        records: Sequence[Record]) -> None:
    """Speed-accuracy scatter (end-to-end median latency against PQ), one
    labelled marker per model, as a PNG drawn with Agg."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    xs = [r['e2e_median_ms'] for r in records]
    ys, label = plot_y(records, settings.shape)
    for x, y, record in zip(xs, ys, records):
        axes.plot(x, y, 'o', markersize=8)
        axes.annotate(record['name'], (x, y), textcoords='offset points',
                      xytext=(6, 6), fontsize=8)
    axes.set_xlabel('end-to-end latency, median (ms)')
    axes.set_ylabel(label)
    axes.set_title(f'{settings.device}, {torch.get_num_threads()} threads, '
                   f'{settings.shape[0]}x{settings.shape[1]}', fontsize=9)
    axes.grid(True, alpha=0.3)
    axes.margins(0.2)
    figure.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    figure.savefig(path, format='png')


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    # Current logger from here on: keeps MMEngine's info messages quiet.
    MMLogger.get_instance('mmpfcn_benchmark', log_level='WARNING')
    settings = Settings(
        shape=tuple(args.shape), num_images=args.num_images,
        warmup=args.warmup, device=args.device, amp=args.amp,
        channels_last=args.channels_last, evaluate=args.eval, data_root=args.data_root,
        cfg_options=args.cfg_options)
    print(', '.join(f'{key}: {value}'
                    for key, value in describe_settings(settings).items()))
    # With --eval the test split is timed; one image still counts the FLOPs.
    images = render_images(settings.shape,
                           1 if args.eval else args.num_images, args.seed)
    records = run_benchmark(args.models, settings, images)
    out_json = args.out_json or osp.join(args.work_dir, 'benchmark.json')
    out_png = args.out_png or osp.join(args.work_dir, 'benchmark.png')
    write_json(out_json, settings, records)
    plot_speed_accuracy(out_png, settings, records)
    print(f'\n{results_table(records)}\n\n'
          'forward: model(..., mode="tensor") after preprocessing; '
          'e2e: model.test_step (preprocessing, forward, post-processing); '
          'ratios to the first row\n'
          f'json: {out_json}\nplot: {out_png}')


if __name__ == '__main__':
    main()
