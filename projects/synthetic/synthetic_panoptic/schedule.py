"""Fitting an iteration-based schedule into the main job's time budget.

A config's schedule (``train_cfg.max_iters``, the ``param_scheduler``
entries, the checkpoint interval) is scaled as a whole, so a shorter run
keeps the shape of the full one: warm-up and cosine decay shrink together.
The result is a list of ``--cfg-options`` for ``tools/train.py``, so the
printed command reproduces the run.
"""
import math
from typing import List

from mmengine.config import Config

# A run this much shorter than its config learns too little to be worth
# the budget: the job stops and says so instead.
MIN_FRACTION = 0.1
# Checkpoints per run, so that an interrupted run resumes close to where it
# stopped (MMEngine keeps the newest only, and saves the last iteration).
CHECKPOINTS_PER_RUN = 4


def config_iterations(cfg: Config) -> int:
    """``train_cfg.max_iters`` of an iteration-based config."""
    if cfg.train_cfg.get('type') != 'IterBasedTrainLoop' or \
            'max_iters' not in cfg.train_cfg:
        raise ValueError('the main job scales iteration-based schedules; '
                         f'train_cfg is {dict(cfg.train_cfg)}')
    return int(cfg.train_cfg.max_iters)


def fit_iterations(config_iters: int, seconds_per_iter: float,
                   seconds_available: float) -> int:
    """The config's iterations, or as many as ``seconds_available`` allows,
    whichever is fewer. Raises ``RuntimeError`` below :data:`MIN_FRACTION`
    of the config's (the budget is too small for this machine)."""
    # (the tolerance keeps a product of the same two floats whole)
    affordable = int(seconds_available / seconds_per_iter + 1e-6)
    if affordable >= config_iters:
        return config_iters
    if affordable < MIN_FRACTION * config_iters:
        raise RuntimeError(
            f'the budget leaves {seconds_available:.0f} s for training, '
            f'{affordable} iterations at {seconds_per_iter:.2f} s each, '
            f'less than {MIN_FRACTION:.0%} of the {config_iters} the config '
            'asks for: raise --budget-minutes')
    return affordable


def schedule_length(cfg: Config) -> int:
    """The iterations the config's schedule was written for: the largest
    ``end`` of its ``param_scheduler`` (``train_cfg.max_iters`` without
    one), so that a ``max_iters`` changed by an option alone does not
    change the schedule's shape."""
    ends = [scheduler.get('end', 0) for scheduler in schedulers(cfg)]
    return int(max(ends + [0]) or config_iterations(cfg))


def schedulers(cfg: Config) -> list:
    """The config's ``param_scheduler`` as a list; each must count
    iterations."""
    found = cfg.get('param_scheduler') or []
    found = [found] if isinstance(found, dict) else list(found)
    for index, scheduler in enumerate(found):
        if scheduler.get('by_epoch', True):
            raise ValueError(f'param_scheduler[{index}] is epoch-based; the '
                             'main job scales iteration-based schedules')
    return found


def schedule_options(cfg: Config, iterations: int) -> List[str]:
    """``--cfg-options`` that run ``cfg`` for ``iterations`` with every
    ``param_scheduler`` bound scaled by the same factor, a checkpoint
    :data:`CHECKPOINTS_PER_RUN` times per run and no intermediate
    validation."""
    factor = iterations / schedule_length(cfg)
    options = [f'train_cfg.max_iters={iterations}',
               f'train_cfg.val_interval={iterations}',
               'default_hooks.checkpoint.interval='
               f'{max(1, math.ceil(iterations / CHECKPOINTS_PER_RUN))}',
               'default_hooks.checkpoint.max_keep_ckpts=1']
    for index, scheduler in enumerate(schedulers(cfg)):
        for key in ('begin', 'end', 'T_max'):
            if key in scheduler:
                value = max(1, round(scheduler[key] * factor)) \
                    if scheduler[key] else 0
                options.append(f'param_scheduler.{index}.{key}={value}')
    return options
