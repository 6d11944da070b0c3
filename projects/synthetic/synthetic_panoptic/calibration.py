"""Short measurements that predict how long the main job's stages take on
this machine, before they run.

Each times a few real steps of its stage (rendering images, training
iterations on real batches, inference on val images) after a warm-up and
extrapolates. Machines differ by 5x and more (instruction set, bfloat16,
a busy host), so no stage duration is assumed.
"""
import copy
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from mmengine.config import Config

# Multiprocessing pool start-up and PNG writing on top of rendering.
RENDER_OVERHEAD = 1.3
# Training in tools/train.py is slower per iteration than here: its data
# loading worker, logging and checkpoint hooks share the cores with the
# compute (1.05 s there against 0.94 s calibrated, AVX2 class).
TRAINING_OVERHEAD = 1.15
# Inference of a trained model keeps more candidates than a fresh one.
INFERENCE_MARGIN = 1.5
# Interpreter start, imports and the dataloader workers of a tools/ process.
PROCESS_START_SECONDS = 12.0


def seconds_per_call(call: Callable[[int], object], warmup: int,
                     repeats: int) -> float:
    """Mean seconds of ``call(i)`` for ``repeats`` calls after ``warmup``
    untimed ones (``i`` counts all calls from 0)."""
    for index in range(warmup):
        call(index)
    start = time.perf_counter()
    for index in range(warmup, warmup + repeats):
        call(index)
    return (time.perf_counter() - start) / repeats


def predict_generation_seconds(num_images: int, size: int,
                               workers: int) -> float:
    """Seconds to write ``num_images`` synthetic images of ``size`` pixels
    with ``workers`` processes, from rendering four."""
    from .generator import render_images
    per_image = seconds_per_call(
        lambda index: render_images((size, size), 1, seed=index, size=size),
        warmup=1, repeats=3)
    return RENDER_OVERHEAD * per_image * num_images / max(1, workers)


def endless(loader: Iterable) -> Iterator:
    """The batches of ``loader``, epoch after epoch (a tiny set has fewer
    batches than the calibration's iterations)."""
    while True:
        yield from loader


@dataclass
class ModelTiming:
    """Seconds per training iteration and per test image of a config, and
    what building the model and loader took."""
    train_iteration: float
    test_image: float
    build: float


def time_model(cfg: Config, amp: bool, iterations: int = 6,
               warmup: int = 3) -> ModelTiming:
    """Train ``cfg``'s model for ``warmup + iterations`` iterations on real
    batches (loading in this process, as the job's only worker would beside
    it) and run inference on two val images."""
    import torch
    from mmdet.registry import DATASETS
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper
    from mmengine.runner import Runner

    from mmpfcn.apis import use_mixed_precision
    from mmpfcn.apis.benchmark import build_model
    cfg = copy.deepcopy(cfg)
    if amp:
        use_mixed_precision(cfg)
    start = time.perf_counter()
    model = build_model(cfg, None, 'cpu').train()
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.update(num_workers=0, persistent_workers=False)
    loader = endless(Runner.build_dataloader(loader_cfg, seed=0))
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    build = time.perf_counter() - start
    train = seconds_per_call(
        lambda _: model.train_step(next(loader), optim_wrapper), warmup,
        iterations)

    model.eval()
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    batches = [pseudo_collate([dataset[index]]) for index in range(2)]
    with torch.no_grad():
        test = seconds_per_call(
            lambda index: model.test_step(batches[index]), warmup=1, repeats=1)
    return ModelTiming(TRAINING_OVERHEAD * train, INFERENCE_MARGIN * test,
                       build)
