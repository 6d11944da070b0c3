"""Command-line pieces shared by tools/train.py and tools/test.py.

They follow MMDetection 3.x's tools: the same options, the same default work
directory (``./work_dirs/<config name>``) and the same choice of runner. On
top, the config is validated before anything is built, training uses
mmpfcn's crash-safe checkpoint hook and stops at a non-finite loss, and the
pytorch launcher also works on machines without CUDA.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from .config_validation import validate_config
from .cpu_distributed import prepare_cpu_distributed

# Hooks tools/train.py adds to every config (unless it has them).
RELIABILITY_HOOKS = ('FiniteLossHook', 'BadSampleReportHook')
# tools/train.py --cfg-options for jobs that evaluate with tools/test.py right
# after training: no validation loop (MMEngine 0.10 validates at max_iters
# even when val_interval is larger).
NO_VALIDATION_OPTIONS = ('val_cfg=None', 'val_dataloader=None',
                         'val_evaluator=None')


def parse_runner_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Add the options every tool has (``--work-dir``, ``--cfg-options``,
    ``--launcher``, ``--local-rank``), parse the command line and export
    ``LOCAL_RANK`` for MMEngine."""
    parser.add_argument(
        '--work-dir', help='the dir to save logs, checkpoints and metrics')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
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


def load_config(args: argparse.Namespace) -> Config:
    """Load ``args.config`` with the launcher, ``--cfg-options`` and work
    directory of the command line, and validate it
    (:func:`~mmpfcn.utils.config_validation.validate_config`)."""
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    validate_config(cfg)
    return cfg


def use_reliability_hooks(cfg: Config) -> Config:
    """Train with ``SafeCheckpointHook`` in place of MMEngine's
    ``CheckpointHook`` and with ``FiniteLossHook`` and
    ``BadSampleReportHook``."""
    checkpoint = cfg.get('default_hooks', {}).get('checkpoint')
    if checkpoint is not None and checkpoint.get('type') in (
            'CheckpointHook', 'mmengine.CheckpointHook'):
        checkpoint.type = 'SafeCheckpointHook'
    hooks = list(cfg.get('custom_hooks', []))
    present = {hook.get('type') for hook in hooks}
    cfg.custom_hooks = hooks + [
        dict(type=name) for name in RELIABILITY_HOOKS if name not in present
    ]
    return cfg


def build_runner(cfg: Config) -> Runner:
    """The config's ``runner_type`` if it names one, else MMEngine's
    Runner; on CPU-only machines after
    :func:`~mmpfcn.utils.cpu_distributed.prepare_cpu_distributed`."""
    prepare_cpu_distributed(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
