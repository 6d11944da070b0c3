"""Test (and evaluate) a checkpoint with an mmpfcn config (MMDetection 3.x
command line).

Also the entry point of ``mim test mmpfcn CONFIG --checkpoint CKPT``.
"""
import argparse

from mmdet.engine.hooks.utils import trigger_visualization_hook
from mmdet.evaluation import DumpDetResults
from mmdet.utils import setup_cache_size_limit_of_dynamo
from mmengine.config import Config

import mmpfcn  # noqa: F401  (registers modules, installs safe loading)
from mmpfcn.apis import build_runner, load_config, parse_runner_args
from mmpfcn.utils.cpu_distributed import destroy_process_group


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Test (and eval) a model with a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out',
        type=str,
        help='dump predictions to a pickle file for offline evaluation')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved; relative to '
        'each run\'s timestamped log directory')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed-precision inference: float16 autocast on CUDA, bfloat16 on '
        'a CPU (MMEngine\'s TestLoop fp16)')
    parser.add_argument(
        '--tta',
        action='store_true',
        help='test time augmentation with the config\'s tta_model and '
        'tta_pipeline')
    return parse_runner_args(parser)


def apply_test_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Fold the checkpoint, ``--show``/``--show-dir``, ``--amp`` and ``--tta``
    into ``cfg``."""
    cfg.load_from = args.checkpoint
    if args.amp:
        # The losses are not computed here; the fusion casts its logits to
        # float32 itself.
        cfg.test_cfg = dict(cfg.get('test_cfg') or dict(type='TestLoop'), fp16=True)
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)

    if args.tta:
        # MMDet's fallback (box NMS over flipped views) does not fit panoptic
        # outputs, so a TTA setup must come from the config itself.
        missing = [
            key for key in ('tta_model', 'tta_pipeline') if key not in cfg
        ]
        if missing:
            raise RuntimeError(f'--tta needs {" and ".join(missing)} in the '
                               'config')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    return cfg


def main() -> None:
    args = parse_args()
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        raise ValueError('--out must be a .pkl or .pickle file')
    # Fewer torch.compile recompilations (DYNAMO_CACHE_SIZE_LIMIT), as MMDet.
    setup_cache_size_limit_of_dynamo()
    cfg = load_config(args.config, args.cfg_options, args.work_dir,
                      args.launcher)
    runner = build_runner(apply_test_args(cfg, args))
    if args.out is not None:
        runner.test_evaluator.metrics.append(
            DumpDetResults(out_file_path=args.out))
    runner.test()
    destroy_process_group()


if __name__ == '__main__':
    main()
