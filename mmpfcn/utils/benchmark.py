"""Size, speed, memory and accuracy of detector configs, measured side by side.

Used by ``tools/analysis_tools/benchmark.py``. Every model is measured in the
same process on the same images:

- ``params``: number of parameters.
- ``flops``: MMEngine's ``get_model_complexity_info`` of the network forward
  (below) on one synthetic image of the requested size, padded to the
  model's size divisor like real inputs; ``None`` where tracing fails.
- network forward latency: ``model(inputs, data_samples, mode='tensor')``
  (the detector's ``_forward``: backbone, neck and heads up to their raw
  outputs) on the output of the data preprocessor, which is not timed.
  MMDetection's two-stage models also make RPN proposals there and run
  their RoI heads, mask head included, on all of them, so their forward
  (and FLOPs) can exceed their end-to-end latency, which masks only the
  final detections.
- end-to-end latency: ``model.test_step``: moving the batch to the device,
  normalising and padding (data preprocessor), the forward and the
  post-processing into ``DetDataSample`` predictions. Reading and resizing
  images (the dataset pipeline) is not timed.
- latencies are the median and 90th percentile over the timed images after
  the warm-up runs; images per second are ``1000 / e2e median``; the batch
  size is 1.
- peak memory: the process's peak resident set size (Linux ``VmHWM``, reset
  through ``/proc/self/clear_refs`` so it is per model; interpreter and
  libraries included) or ``torch.cuda.max_memory_allocated`` on CUDA, over
  the warm-up and timed runs, the model's weights included.
- with a dataset, PQ / SQ / RQ (all, things, stuff) of the config's
  ``test_evaluator`` over the timed images.
"""
import ctypes
import ctypes.util
import gc
import importlib
import json
import logging
import os
import os.path as osp
import re
import time
import warnings
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Optional,
                    Sequence, Tuple)

import mmcv
import numpy as np
import torch
from mmdet.datasets.transforms import PackDetInputs
from mmdet.registry import DATASETS, MODELS
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config, ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from torch import nn

from mmpfcn.datasets.synthetic_panoptic import render_sample

# PQ figures as CocoPanopticMetric names them (without its prefix).
PQ_KEYS: Tuple[str, ...] = tuple(f'{m}{s}' for s in ('', '_th', '_st')
                                 for m in ('PQ', 'SQ', 'RQ'))
# Measured figures of every model, in table order.
FIGURES: Tuple[str, ...] = ('params', 'flops', 'forward_median_ms',
                            'forward_p90_ms', 'e2e_median_ms', 'e2e_p90_ms',
                            'img_per_s', 'peak_mem_mib')
SYNTHETIC_SIZE = 256
CLEAR_REFS = '/proc/self/clear_refs'
PROC_STATUS = '/proc/self/status'
SPEC_PATTERN = re.compile(r'^(?P<config>.+?\.py)(?::(?P<checkpoint>.+))?$')

Batch = Dict[str, list]
Record = Dict[str, Any]


@dataclass(frozen=True)
class ModelSpec:
    """A config to benchmark and its optional checkpoint."""
    config: str
    checkpoint: Optional[str] = None

    @classmethod
    def parse(cls, text: str) -> 'ModelSpec':
        """Read ``CONFIG[:CHECKPOINT]``; the config ends in ``.py`` and may
        be MMDet's (``mmdet::panoptic_fpn/...py``)."""
        match = SPEC_PATTERN.match(text)
        if match is None:
            raise ValueError(f'expected CONFIG.py[:CHECKPOINT], got {text!r}')
        return cls(match['config'], match['checkpoint'])

    @property
    def name(self) -> str:
        """The config's file name without ``.py``."""
        return osp.splitext(osp.basename(self.config))[0]


@dataclass(frozen=True)
class Settings:
    """What every model is measured with."""
    shape: Tuple[int, int]
    num_images: int
    warmup: int
    device: str = 'cpu'
    amp: bool = False
    evaluate: bool = False
    data_root: Optional[str] = None
    cfg_options: Optional[dict] = None
    seed: int = 0


def unique_names(specs: Sequence[ModelSpec]) -> List[str]:
    """Config names; a config given more than once is numbered (``#1``...)."""
    names = [spec.name for spec in specs]
    return [
        f'{name} #{names[:index].count(name) + 1}'
        if names.count(name) > 1 else name
        for index, name in enumerate(names)
    ]


def drop_pretrained(node: Any) -> None:
    """Remove every ``Pretrained`` ``init_cfg`` and ``pretrained`` path below
    ``node`` in place, so that building and initialising downloads nothing."""
    if isinstance(node, list):
        for item in node:
            drop_pretrained(item)
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key == 'pretrained':
            node[key] = None
        elif key == 'init_cfg' and isinstance(value, list):
            node[key] = [v for v in value if v.get('type') != 'Pretrained']
        elif key == 'init_cfg' and isinstance(value, dict) \
                and value.get('type') == 'Pretrained':
            node[key] = None
        else:
            drop_pretrained(value)


def evaluator_metrics(cfg: Config) -> List[ConfigDict]:
    """The config's test metrics as a list (``test_evaluator`` may be
    one)."""
    metrics = cfg.test_evaluator
    return list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]


def override_data_root(cfg: Config, data_root: str) -> None:
    """Read the test split from ``data_root``; evaluator paths under the
    config's own data root move with it."""
    data_root = osp.join(data_root, '')
    dataset = cfg.test_dataloader.dataset
    old_root = dataset.get('data_root') or ''
    dataset.data_root = data_root
    for evaluator in evaluator_metrics(cfg):
        for key in ('ann_file', 'seg_prefix'):
            path = evaluator.get(key)
            if old_root and isinstance(path, str) and path.startswith(
                    old_root):
                evaluator[key] = data_root + path[len(old_root):]


def resolve_config_path(path: str) -> str:
    """A config path, with ``package::rel/path.py`` resolved in the
    installed package's ``.mim/configs`` (as ``_base_`` entries are)."""
    if '::' not in path:
        return path
    package, relative = path.split('::', 1)
    package_dir = osp.dirname(importlib.import_module(package).__file__)
    return osp.join(package_dir, '.mim', 'configs', relative)


def load_config(spec: ModelSpec, settings: Settings) -> Config:
    """The config with ``--cfg-options``, the data root and without
    pretrained weights (a checkpoint, if any, replaces them)."""
    cfg = Config.fromfile(resolve_config_path(spec.config))
    if settings.cfg_options:
        cfg.merge_from_dict(settings.cfg_options)
    if settings.data_root:
        override_data_root(cfg, settings.data_root)
    drop_pretrained(cfg.model)
    return cfg


def build_model(cfg: Config, checkpoint: Optional[str],
                device: str) -> nn.Module:
    """The detector in eval mode on ``device``: the checkpoint's weights,
    else the model's own random initialisation."""
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu')
    else:
        model.init_weights()
    return model.to(device).eval()


def synthetic_images(shape: Tuple[int, int], num: int,
                     seed: int) -> List[np.ndarray]:
    """``num`` deterministic BGR images of ``shape`` (H, W): synthetic
    panoptic scenes resized to the shape."""
    images = []
    for index in range(num):
        rng = np.random.default_rng([seed, index])
        rgb, _, _ = render_sample(rng, SYNTHETIC_SIZE, True, 3, 1)
        images.append(mmcv.imresize(rgb[..., ::-1], shape[::-1]))
    return images


def pack_images(images: Sequence[np.ndarray]) -> List[Batch]:
    """One-image batches as a test dataloader gives them."""
    pack = PackDetInputs()
    batches = []
    for index, image in enumerate(images):
        results = dict(img=image, img_id=index, ori_shape=image.shape[:2],
                       img_shape=image.shape[:2], scale_factor=(1.0, 1.0))
        batches.append(pseudo_collate([pack(results)]))
    return batches


def dataset_batches(cfg: Config, num: int) -> Tuple[List[Batch], dict]:
    """The first ``num`` images of the config's test split through its test
    pipeline, as one-image batches, and the dataset's metainfo."""
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    count = min(num, len(dataset))
    return [pseudo_collate([dataset[i]]) for i in range(count)], \
        dataset.metainfo


class _TensorForward(nn.Module):
    """``model(inputs, data_samples, mode='tensor')`` with the samples bound,
    for tracing."""

    def __init__(self, model: nn.Module, data_samples: list) -> None:
        super().__init__()
        self.model = model
        self.data_samples = data_samples

    def forward(self, inputs: torch.Tensor) -> Any:
        return self.model(inputs, self.data_samples, mode='tensor')


@contextmanager
def quiet_logger() -> Iterator[None]:
    """Only errors from MMEngine's current logger inside the block."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def count_flops(model: nn.Module,
                batch: Batch) -> Tuple[Optional[int], Tuple[int, ...]]:
    """FLOPs of the network forward on ``batch`` after the data
    preprocessor, and the (padded) input shape; ``None`` FLOPs where
    MMEngine cannot trace the model. Its warnings about operators it does
    not count are silenced."""
    data = model.data_preprocessor(batch, False)
    inputs = data['inputs']
    try:
        with torch.no_grad(), quiet_logger():
            info = get_model_complexity_info(
                _TensorForward(model, data['data_samples']),
                inputs=(inputs, ),
                show_table=False,
                show_arch=False)
    except Exception as error:  # tracing fails on some dynamic models
        warnings.warn(f'FLOPs not counted: {error!r}')
        return None, tuple(inputs.shape)
    return int(info['flops']), tuple(inputs.shape)


def synchronize(device: str) -> None:
    """Wait for the device's queued work (CUDA only)."""
    if device.startswith('cuda'):
        torch.cuda.synchronize(device)


def timed_runs(run: Callable[[Any], Any], items: Iterable,
               device: str) -> Iterator[Tuple[float, Any]]:
    """``(milliseconds, output)`` of ``run`` on each item; producing the
    item is not timed."""
    for item in items:
        synchronize(device)
        start = time.perf_counter()
        output = run(item)
        synchronize(device)
        yield (time.perf_counter() - start) * 1000, output


def release_memory() -> None:
    """Free unreachable objects and hand freed heap pages back to the
    system (glibc's ``malloc_trim``, where there is one), so that the next
    model's peak RSS starts low."""
    gc.collect()
    libc = ctypes.util.find_library('c')
    trim = getattr(ctypes.CDLL(libc), 'malloc_trim', None) if libc else None
    if trim is not None:
        trim(0)


def reset_peak_memory(device: str) -> bool:
    """Start a new peak-memory window; False where that is impossible."""
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats(device)
        return True
    try:
        with open(CLEAR_REFS, 'w') as f:
            f.write('5')
    except OSError:
        return False
    return True


def peak_memory_mib(device: str) -> Optional[float]:
    """Peak memory since :func:`reset_peak_memory` in MiB; ``None`` where
    it cannot be read."""
    if device.startswith('cuda'):
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        with open(PROC_STATUS) as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def autocast(settings: Settings) -> AbstractContextManager:
    """fp16 autocast on CUDA with ``amp``, else nothing (mmcv's CPU ops
    have no bf16 kernels)."""
    if not settings.amp:
        return nullcontext()
    return torch.autocast('cuda', dtype=torch.float16)


def percentiles(times: Sequence[float]) -> Tuple[float, float]:
    """Median and 90th percentile."""
    return float(np.median(times)), float(np.percentile(times, 90))


def panoptic_evaluator(cfg: Config, dataset_meta: dict) -> Evaluator:
    """An evaluator of the config's ``CocoPanopticMetric`` alone."""
    metrics = [
        metric for metric in evaluator_metrics(cfg)
        if metric['type'].split('.')[-1] == 'CocoPanopticMetric'
    ]
    if not metrics:
        raise ValueError('--eval needs a CocoPanopticMetric in the '
                         'config\'s test_evaluator')
    evaluator = Evaluator(metrics)
    evaluator.dataset_meta = dataset_meta
    return evaluator


def pq_metrics(metrics: Dict[str, float]) -> Dict[str, float]:
    """PQ / SQ / RQ figures of an evaluator's result, without the prefix."""
    named = {key.split('/')[-1]: value for key, value in metrics.items()}
    return {key: float(named[key]) for key in PQ_KEYS}


def measure_latency(model: nn.Module, batches: List[Batch],
                    settings: Settings,
                    evaluator: Optional[Evaluator]) -> Record:
    """Warm up, then time the forward and ``test_step`` on every batch; the
    evaluator, if any, gets the predictions. Also the peak memory."""
    memory_window = reset_peak_memory(settings.device)
    with torch.no_grad(), autocast(settings):
        warmup = (batches[i % len(batches)] for i in range(settings.warmup))
        for _ in timed_runs(model.test_step, warmup, settings.device):
            pass
        preprocessed = (model.data_preprocessor(b, False) for b in batches)
        forward = [
            ms for ms, _ in timed_runs(lambda d: model(**d, mode='tensor'),
                                       preprocessed, settings.device)
        ]
        e2e = []
        runs = timed_runs(model.test_step, batches, settings.device)
        for batch, (ms, outputs) in zip(batches, runs):
            e2e.append(ms)
            if evaluator is not None:
                evaluator.process(data_samples=outputs, data_batch=batch)
    peak = peak_memory_mib(settings.device) if memory_window else None
    (fwd_median, fwd_p90), (e2e_median, e2e_p90) = map(percentiles,
                                                       (forward, e2e))
    return dict(forward_median_ms=fwd_median, forward_p90_ms=fwd_p90,
                e2e_median_ms=e2e_median, e2e_p90_ms=e2e_p90,
                img_per_s=1000 / e2e_median, peak_mem_mib=peak,
                num_images=len(batches))


def benchmark_model(spec: ModelSpec, name: str, settings: Settings,
                    images: Sequence[np.ndarray]) -> Record:
    """Every figure of one model; ``images`` are the synthetic inputs (the
    first also counts the FLOPs)."""
    cfg = load_config(spec, settings)
    evaluator = None
    if settings.evaluate:
        batches, metainfo = dataset_batches(cfg, settings.num_images)
        evaluator = panoptic_evaluator(cfg, metainfo)
    else:
        batches = pack_images(images)
    release_memory()
    model = build_model(cfg, spec.checkpoint, settings.device)
    flops, flops_shape = count_flops(model, pack_images(images[:1])[0])
    record = dict(name=name, config=spec.config, checkpoint=spec.checkpoint,
                  params=sum(p.numel() for p in model.parameters()),
                  flops=flops, flops_input_shape=list(flops_shape))
    record.update(measure_latency(model, batches, settings, evaluator))
    record['metrics'] = None if evaluator is None else pq_metrics(
        evaluator.evaluate(len(batches)))
    return record


def numeric_figures(record: Record) -> Dict[str, Optional[float]]:
    """The figures of a record that get ratios: FIGURES, then PQ_KEYS."""
    figures = {key: record[key] for key in FIGURES}
    figures.update(record['metrics'] or {})
    return figures


def add_ratios(records: List[Record]) -> None:
    """Give every record ``ratios``: each figure over the first record's
    (``None`` where either is missing or the first is zero)."""
    base = numeric_figures(records[0])
    for record in records:
        record['ratios'] = {
            key: value / base[key] if value is not None and base.get(key)
            else None
            for key, value in numeric_figures(record).items()
        }


def run_benchmark(specs: Sequence[ModelSpec],
                  settings: Settings) -> List[Record]:
    """Measure every model in turn on the same inputs; records in order,
    with ratios to the first."""
    num_synthetic = 1 if settings.evaluate else settings.num_images
    images = synthetic_images(settings.shape, num_synthetic, settings.seed)
    records = [
        benchmark_model(spec, name, settings, images)
        for spec, name in zip(specs, unique_names(specs))
    ]
    add_ratios(records)
    return records


def _si(value: float) -> str:
    """``value`` with a k / M / G / T prefix."""
    for prefix, scale in (('T', 1e12), ('G', 1e9), ('M', 1e6), ('k', 1e3)):
        if abs(value) >= scale:
            return f'{value / scale:.2f}{prefix}'
    return f'{value:.0f}'


# How each figure is written in the table: its heading and its format.
COLUMNS: Dict[str, Tuple[str, Callable[[float], str]]] = dict(
    params=('params', _si),
    flops=('FLOPs', _si),
    forward_median_ms=('forward median', lambda v: f'{v:.1f} ms'),
    forward_p90_ms=('forward p90', lambda v: f'{v:.1f} ms'),
    e2e_median_ms=('e2e median', lambda v: f'{v:.1f} ms'),
    e2e_p90_ms=('e2e p90', lambda v: f'{v:.1f} ms'),
    img_per_s=('img/s', lambda v: f'{v:.2f}'),
    peak_mem_mib=('peak mem', lambda v: f'{v:.0f} MiB'),
    **{key: (key, lambda v: f'{v:.1f}') for key in PQ_KEYS})


def _cell(value: Optional[float], ratio: Optional[float],
          fmt: Callable[[float], str]) -> str:
    """``formatted (ratio x)``, or ``n/a``."""
    if value is None:
        return 'n/a'
    return fmt(value) + ('' if ratio is None else f' ({ratio:.2f}x)')


def format_table(records: Sequence[Record]) -> str:
    """One row per model; PQ columns where the first model was evaluated."""
    keys = list(FIGURES) + (list(PQ_KEYS) if records[0]['metrics'] else [])
    rows = [['model'] + [COLUMNS[key][0] for key in keys]]
    for record in records:
        figures = numeric_figures(record)
        rows.append([record['name']] + [
            _cell(figures.get(key), record['ratios'].get(key), COLUMNS[key][1])
            for key in keys
        ])
    widths = [max(len(row[i]) for row in rows) for i in range(len(keys) + 1)]
    lines = [
        ' | '.join(cell.ljust(width) for cell, width in zip(row, widths))
        for row in rows
    ]
    lines.insert(1, '-+-'.join('-' * width for width in widths))
    return '\n'.join(lines)


def describe_settings(settings: Settings) -> Dict[str, Any]:
    """The run's conditions for the header and the JSON."""
    device = settings.device
    if device.startswith('cuda'):
        device += f' ({torch.cuda.get_device_name(device)})'
    return dict(
        device=device,
        threads=torch.get_num_threads(),
        amp=settings.amp,
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


def _plot_y(records: Sequence[Record],
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
    ys, label = _plot_y(records, settings.shape)
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
