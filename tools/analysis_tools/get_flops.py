"""Parameters and FLOPs of a model config at a given input size (MMEngine's complexity analysis).

The network is counted up to its raw outputs (``mode='tensor'``: backbone, FPN,
feature encoder, position and kernel heads); post-processing is not counted.

Example::

    python tools/analysis_tools/get_flops.py configs/panoptic_fcn/panoptic-fcn_r50_fpn_1x_coco.py \
        --shape 800 1333
"""
import argparse

import torch
from mmdet.registry import MODELS
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

import mmpfcn  # noqa: F401


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='model config file')
    parser.add_argument('--shape', type=int, nargs=2, default=[800, 1333], metavar=('H', 'W'),
                        help='input height and width (padded to the size divisor like real inputs)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config keys')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.model.backbone.init_cfg = None
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = MODELS.build(cfg.model).eval()
    divisor = cfg.model.data_preprocessor.get('pad_size_divisor', 1)
    h, w = (-(-s // divisor) * divisor for s in args.shape)
    with torch.no_grad():
        info = get_model_complexity_info(model, inputs=(torch.zeros(1, 3, h, w), ), show_table=False,
                                         show_arch=False)
    print(f'config: {args.config}\ninput: {args.shape[0]}x{args.shape[1]} (padded {h}x{w})\n'
          f"FLOPs: {info['flops_str']}\nparameters: {info['params_str']}")


if __name__ == '__main__':
    main()
