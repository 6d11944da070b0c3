"""Score an exported Panoptic FCN on a config's test set, with the config's metric, as
tools/test.py scores the PyTorch model.

    python tools/deployment/test_onnx.py CONFIG MODEL.onnx [--threads N] [--work-dir DIR]
        [--cfg-options k=v ...]

The config's test pipeline loads and resizes the images; ``mmpfcn.deployment.OnnxPanopticFCN``
takes the model's place and predicts with onnxruntime.
"""
import argparse

import mmpfcn  # noqa: F401  (registers modules, installs safe loading)
import mmpfcn.deployment  # noqa: F401  (registers OnnxPanopticFCN)
from mmpfcn.apis import build_runner, load_config, parse_runner_args
from mmpfcn.deployment import read_settings
from mmpfcn.utils.cpu_distributed import destroy_process_group


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='the config the model was exported from')
    parser.add_argument('onnx_file', help='the exported model')
    parser.add_argument('--threads', type=int, help="onnxruntime's intra-op threads")
    return parse_runner_args(parser)


def main() -> None:
    args = parse_args()
    read_settings(args.onnx_file)  # a clear error before anything is built
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    cfg.model = dict(type='OnnxPanopticFCN', onnx_file=args.onnx_file, num_threads=args.threads)
    cfg.load_from = None
    build_runner(cfg).test()
    destroy_process_group()


if __name__ == '__main__':
    main()
