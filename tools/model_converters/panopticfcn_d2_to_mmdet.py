"""Convert an official Panoptic FCN (detectron2) checkpoint into an MMEngine checkpoint.

The conversion is the package's (``mmpfcn/models/utils/detectron2_checkpoint.py``),
the same that ``PanopticFCN`` applies when such a file is loaded as it is:
every source key is mapped by one rule table, every target key of the
matching mmpfcn model must be filled with the right shape, and anything left
over on either side is an error that lists the keys. The source may be a path
or an ``http(s)://`` / Google Drive URL; without ``--variant`` or ``--config``
the variant is read from the source's keys.

Example::

    python tools/model_converters/panopticfcn_d2_to_mmdet.py \
        panoptic_fcn_r50_1x.pth panoptic-fcn_r50_fpn_8xb2-ms-1x_coco_converted.pth
"""
import argparse
import os.path as osp
import sys
from collections import OrderedDict
from typing import Dict, Tuple

import torch
from mmengine.runner.checkpoint import _load_checkpoint

import mmpfcn  # noqa: F401  (registers the models, installs the checkpoint loaders)
from mmpfcn.models.utils import (IncompatibleCheckpointError, authors_variant, convert_for_model,
                                 convert_state_dict)
from mmpfcn.utils import atomic_write
from mmpfcn.utils.checkpoint_format import is_authors_state_dict

__all__ = ['VARIANTS', 'convert_state_dict', 'target_shapes_for']

CONFIG_DIR = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs')

# variant -> (config, cfg_options): the official checkpoints use a deformable position head
# (POSITION_HEAD.DEFORM = True); 'plain' has ordinary convs there, 'star' also a deformable
# 256-channel feature encoder.
VARIANTS: Dict[str, Tuple[str, dict]] = {
    'default': ('panoptic_fcn/panoptic-fcn_r50_fpn_8xb2-ms-1x_coco.py', {}),
    'plain': ('panoptic_fcn/panoptic-fcn_r50_fpn_8xb2-ms-1x_coco.py',
              {'model.kernel_generator.position_head.conv_cfg': None}),
    'star': ('panoptic_fcn/panoptic-fcn-star_r50_fpn_8xb2-ms-3x_coco.py', {}),
}


def target_shapes_for(config: str, cfg_options: dict) -> Dict[str, torch.Size]:
    """Keys and shapes of the mmpfcn model a config builds (no weights are loaded)."""
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    cfg = Config.fromfile(config)
    cfg.merge_from_dict(cfg_options)
    cfg.model.backbone.init_cfg = None
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = MODELS.build(cfg.model)
    return OrderedDict((k, v.shape) for k, v in model.state_dict().items())


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='official detectron2 checkpoint (.pth): path or URL')
    parser.add_argument('dst', help='output MMEngine checkpoint')
    parser.add_argument('--variant', choices=sorted(VARIANTS),
                        help='architecture of the source: default = deformable position head '
                        '(all official R50 checkpoints), plain = ordinary convs, star = Panoptic FCN*; '
                        'read from the source\'s keys if not given')
    parser.add_argument('--config', help='mmpfcn config of the target model (overrides the variant\'s)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    checkpoint = _load_checkpoint(args.src, map_location='cpu')
    source = checkpoint.get('state_dict')
    if not is_authors_state_dict(source):
        sys.exit(f'{args.src}: not an authors\' Panoptic FCN checkpoint ({{"model": state_dict}} '
                 'with their position and kernel heads)')
    detected = authors_variant(source).name
    variant = args.variant or detected
    config, cfg_options = VARIANTS[variant]
    config = args.config or osp.join(CONFIG_DIR, config)
    try:
        state = convert_for_model(source, target_shapes_for(config, cfg_options), args.src)
    except IncompatibleCheckpointError as err:
        sys.exit(f'{err}\n(its keys are those of --variant {detected})')
    meta = dict(checkpoint['meta'], converted_from=args.src, variant=variant,
                config=config)
    with atomic_write(args.dst) as file:
        torch.save({'state_dict': state, 'meta': meta}, file)
    print(f'wrote {args.dst}: {len(state)} tensors from {len(source)} source keys ({variant})')


if __name__ == '__main__':
    main()
