"""Train a model from an mmpfcn config (MMDetection 3.x command line).

Also the entry point of ``mim train mmpfcn CONFIG``.
"""
import argparse

from mmdet.utils import setup_cache_size_limit_of_dynamo
from mmengine.config import Config

import mmpfcn  # noqa: F401  (registers modules, installs safe loading)
from mmpfcn.apis import (build_runner, load_config, parse_runner_args,
                         use_mixed_precision)
from mmpfcn.utils.cpu_distributed import destroy_process_group


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision: float16 on CUDA, bfloat16 on CPU')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual over the base batch size')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint; without a path, resume from the '
        'latest checkpoint in the work directory')
    return parse_runner_args(parser)


def apply_train_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Fold ``--amp``, ``--auto-scale-lr`` and ``--resume`` into ``cfg``."""
    if args.amp:
        use_mixed_precision(cfg)

    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise RuntimeError('--auto-scale-lr needs '
                               '"auto_scale_lr.base_batch_size" in the config')
        cfg.auto_scale_lr.enable = True

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main() -> None:
    args = parse_args()
    # Fewer torch.compile recompilations (DYNAMO_CACHE_SIZE_LIMIT), as MMDet.
    setup_cache_size_limit_of_dynamo()
    cfg = load_config(args.config, args.cfg_options, args.work_dir,
                      args.launcher)
    build_runner(apply_train_args(cfg, args)).train()
    destroy_process_group()


if __name__ == '__main__':
    main()
