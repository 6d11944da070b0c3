"""Command-line pieces shared by tools/train.py and tools/test.py.

They follow MMDetection 3.x's tools: the same options, the same default work
directory (``./work_dirs/<config name>``) and the same choice of runner. On
top, a ``--cfg-options`` item without ``=`` is an argparse error naming it,
the config is validated before anything is built and the pytorch launcher
also works on machines without CUDA. The hooks training uses
(``SafeCheckpointHook``, ``FiniteLossHook``, ``BadSampleReportHook``) are
declared in ``configs/_base_/default_runtime.py``, not added here.
"""
import argparse
import os
import os.path as osp
from typing import Optional, Sequence

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ..utils.cpu_distributed import prepare_cpu_distributed
from .config_validation import validate_config

# tools/train.py --cfg-options for jobs that evaluate with tools/test.py right
# after training: no validation loop (MMEngine 0.10 validates at max_iters
# even when val_interval is larger).
NO_VALIDATION_OPTIONS = ('val_cfg=None', 'val_dataloader=None',
                         'val_evaluator=None')


class CfgOptionsAction(DictAction):
    """MMEngine's ``DictAction`` (``key=value`` items into a dict) that
    refuses an item without ``=`` by name, as an argparse error; MMEngine
    fails there with "not enough values to unpack"."""

    def __call__(self,
                 parser: argparse.ArgumentParser,
                 namespace: argparse.Namespace,
                 values: Sequence[str],
                 option_string: Optional[str] = None) -> None:
        for item in values:
            if '=' not in item:
                raise argparse.ArgumentError(
                    self, f'"{item}" is not a key=value pair; give the value '
                    f'too, e.g. {item}=VALUE')
        super().__call__(parser, namespace, values, option_string)


def parse_runner_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Add the options every tool has (``--work-dir``, ``--cfg-options``,
    ``--launcher``, ``--local-rank``), parse the command line and export
    ``LOCAL_RANK`` for MMEngine."""
    parser.add_argument(
        '--work-dir', help='the dir to save logs, checkpoints and metrics')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptionsAction,
        help='override settings of the config, key=value pairs, e.g. '
        'train_cfg.max_iters=100 or "optim_wrapper.optimizer.lr=0.01"')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or
    # --local_rank (older); torch.distributed.run sets LOCAL_RANK instead.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def load_config(path: str,
                cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None,
                launcher: str = 'none') -> Config:
    """Load the config at ``path`` with ``cfg_options`` merged in, the given
    launcher and work directory (else the config's, else
    ``./work_dirs/<config name>``), and validate it
    (:func:`~mmpfcn.apis.config_validation.validate_config`).

    The one way mmpfcn's tools load a config, so that all of them see the
    same checked settings.
    """
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(path))[0])
    validate_config(cfg)
    return cfg


def use_mixed_precision(cfg: Config) -> Config:
    """Switch ``cfg``'s optimizer wrapper to mixed precision (``--amp``):
    float16 with dynamic loss scaling on CUDA, bfloat16 autocast on CPUs
    (MMEngine's ``AmpOptimWrapper`` is CUDA-only)."""
    if torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    else:
        cfg.optim_wrapper.type = 'BF16OptimWrapper'
    return cfg


def build_runner(cfg: Config) -> Runner:
    """The config's ``runner_type`` if it names one, else MMEngine's
    Runner; on CPU-only machines after
    :func:`~mmpfcn.utils.cpu_distributed.prepare_cpu_distributed`."""
    prepare_cpu_distributed(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
