"""Size, speed, memory and accuracy of detector configs, measured side by side
in one process on the same inputs (``tools/analysis_tools/benchmark.py``).

Every model gets its parameter count, the FLOPs of its network forward
(MMEngine's count, on the first input), the median and 90th percentile
latency of that forward and of ``model.test_step`` at batch size 1 after
warm-up runs, its peak memory and, on a dataset, PQ / SQ / RQ. The inputs
come from the caller, so that this module depends on no data generator;
``docs/benchmark.md`` says what each figure includes.
"""
import importlib
import logging
import os.path as osp
import re
import time
import warnings
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Optional,
                    Sequence, Tuple)

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

from ..utils.memory import peak_memory_mib, release_memory, reset_peak_memory
from .cli import load_config

# MMDet's panoptic metric and mmpfcn's extension of it (PQ by size).
PANOPTIC_METRICS = ('CocoPanopticMetric', 'CocoPanopticSizeMetric')
# PQ figures as CocoPanopticMetric names them (without its prefix).
PQ_KEYS: Tuple[str, ...] = tuple(f'{m}{s}' for s in ('', '_th', '_st')
                                 for m in ('PQ', 'SQ', 'RQ'))
# Measured figures of every model, in table order.
FIGURES: Tuple[str, ...] = ('params', 'flops', 'forward_median_ms',
                            'forward_p90_ms', 'e2e_median_ms', 'e2e_p90_ms',
                            'img_per_s', 'peak_mem_mib')
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
    def exported(self) -> bool:
        """Whether the checkpoint is an ONNX export of the config's model."""
        return bool(self.checkpoint) and self.checkpoint.endswith('.onnx')

    @property
    def name(self) -> str:
        """The config's file name without ``.py``; an export adds ``[onnxruntime]``, and its
        quantization if it has one (``[onnxruntime, static int8]``)."""
        name = osp.splitext(osp.basename(self.config))[0]
        if not self.exported:
            return name
        from mmpfcn.deployment import read_settings  # onnx is an optional dependency
        quantization = read_settings(self.checkpoint).get('quantization')
        runtime = f'onnxruntime, {quantization.split(",")[0]}' if quantization else 'onnxruntime'
        return f'{name} [{runtime}]'


@dataclass(frozen=True)
class Settings:
    """What every model is measured with."""
    shape: Tuple[int, int]
    num_images: int
    warmup: int
    device: str = 'cpu'
    amp: bool = False
    channels_last: bool = False
    evaluate: bool = False
    data_root: Optional[str] = None
    cfg_options: Optional[dict] = None


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


def load_model_config(config: str,
                      cfg_options: Optional[dict] = None,
                      data_root: Optional[str] = None) -> Config:
    """The config (also ``mmdet::...``), loaded and checked by
    :func:`~mmpfcn.apis.load_config` with ``cfg_options``, its test split
    moved to ``data_root`` if given, and without pretrained weights (a
    checkpoint, if any, replaces them)."""
    cfg = load_config(resolve_config_path(config), cfg_options)
    if data_root:
        override_data_root(cfg, data_root)
    drop_pretrained(cfg.model)
    return cfg


def build_model(cfg: Config, checkpoint: Optional[str], device: str,
                channels_last: bool = False) -> nn.Module:
    """The detector in eval mode on ``device``: the checkpoint's weights,
    else the model's own random initialisation; its 4-d weights
    channels-last if asked (cuDNN's tensor-core convolutions prefer NHWC,
    and a convolution with NHWC weights gives NHWC outputs)."""
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu')
    else:
        model.init_weights()
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model.eval()


def exported_model(onnx_file: str) -> nn.Module:
    """An ONNX export in onnxruntime as an MMEngine model, on torch's thread count (so that
    ``--threads`` holds for both)."""
    from mmpfcn.deployment import OnnxPanopticFCN
    return OnnxPanopticFCN(onnx_file, num_threads=torch.get_num_threads()).eval()


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
        if metric['type'].split('.')[-1] in PANOPTIC_METRICS
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
    """Every figure of one model; ``images`` are the inputs without a
    dataset (the first also counts the FLOPs)."""
    cfg = load_model_config(spec.config, settings.cfg_options,
                            settings.data_root)
    evaluator = None
    if settings.evaluate:
        batches, metainfo = dataset_batches(cfg, settings.num_images)
        evaluator = panoptic_evaluator(cfg, metainfo)
    else:
        batches = pack_images(images)
    release_memory()
    if spec.exported:
        model, flops, flops_shape = exported_model(spec.checkpoint), None, ()
        params = model.runner.num_parameters
    else:
        model = build_model(cfg, spec.checkpoint, settings.device, settings.channels_last)
        flops, flops_shape = count_flops(model, pack_images(images[:1])[0])
        params = sum(p.numel() for p in model.parameters())
    record = dict(name=name, config=spec.config, checkpoint=spec.checkpoint,
                  params=params, flops=flops, flops_input_shape=list(flops_shape))
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


def run_benchmark(specs: Sequence[ModelSpec], settings: Settings,
                  images: Sequence[np.ndarray]) -> List[Record]:
    """Measure every model in turn on the same inputs; records in order,
    with ratios to the first.

    ``images`` are BGR arrays of ``settings.shape``: the timed inputs, or
    with ``settings.evaluate`` (which times the test split) at least one,
    for the FLOPs.
    """
    records = [
        benchmark_model(spec, name, settings, images)
        for spec, name in zip(specs, unique_names(specs))
    ]
    add_ratios(records)
    return records

