"""Parameters and FLOPs of a model config at a given input size (MMEngine's complexity analysis).

The network is counted up to its raw outputs (``mode='tensor'``: backbone, FPN,
feature encoder, position and kernel heads); post-processing is not counted.

Example::

    python tools/analysis_tools/get_flops.py configs/panoptic_fcn/panoptic-fcn_r50_fpn_8xb2-ms-1x_coco.py \
        --shape 800 1333
"""
import argparse


import mmpfcn  # noqa: F401
from mmpfcn.apis import CfgOptionsAction
from mmpfcn.apis.benchmark import build_model, count_flops, load_model_config, pack_images
from projects.synthetic.synthetic_panoptic import render_images


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='model config file (also mmdet::...)')
    parser.add_argument('--shape', type=int, nargs=2, default=[800, 1333], metavar=('H', 'W'),
                        help='input height and width (padded to the size divisor like real inputs)')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction, help='override config keys')
    return parser.parse_args()


def main() -> None:
    """Count on one synthetic image, as tools/analysis_tools/benchmark.py does."""
    args = parse_args()
    cfg = load_model_config(args.config, args.cfg_options)
    model = build_model(cfg, None, 'cpu')
    batch = pack_images(render_images(tuple(args.shape), 1, seed=0))[0]
    flops, padded = count_flops(model, batch)
    params = sum(p.numel() for p in model.parameters())
    print(f'config: {args.config}\ninput: {args.shape[0]}x{args.shape[1]} (padded {padded[-2]}x{padded[-1]})\n'
          f'FLOPs: {"not countable" if flops is None else f"{flops / 1e9:.1f}G"}\n'
          f'parameters: {params / 1e6:.2f}M')


if __name__ == '__main__':
    main()
