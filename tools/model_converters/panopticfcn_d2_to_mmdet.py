"""Convert an official Panoptic FCN (detectron2) checkpoint into an MMEngine checkpoint.

Every source key is mapped by one rule table, every target key of the
matching mmpfcn model must be filled with the right shape, and anything left
over on either side is an error that lists the keys.

Example::

    python tools/model_converters/panopticfcn_d2_to_mmdet.py \
        panoptic_fcn_r50_1x.pth panoptic-fcn_r50_fpn_8xb2-ms-1x_coco_converted.pth
"""
import argparse
import os
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import Callable, Dict, List, Tuple

import torch

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


def _tower(prefix: str) -> Callable[[re.Match], str]:
    """Map ``<name>_head_<k>.<rest>`` of the authors' SingleHead onto ConvModule names."""

    def rename(m: re.Match) -> str:
        index = int(m.group(1)) - 1
        rest = m.group(2)
        rest = re.sub(r'^offset_mask_conv\.', 'conv.conv_offset.', rest)
        rest = re.sub(r'^(dcnv2\.)?norm\.', 'gn.', rest)
        rest = re.sub(r'^dcnv2\.', 'conv.', rest)
        if not rest.startswith(('conv.', 'gn.')):
            rest = 'conv.' + rest
        return f'{prefix}.{index}.{rest}'

    return rename


RULES: List[Tuple[str, Callable[[re.Match], str]]] = [
    (r'^backbone\.bottom_up\.stem\.conv1\.weight$', lambda m: 'backbone.conv1.weight'),
    (r'^backbone\.bottom_up\.stem\.conv1\.norm\.(\w+)$', lambda m: f'backbone.bn1.{m.group(1)}'),
    (r'^backbone\.bottom_up\.res(\d)\.(\d+)\.conv(\d)\.weight$',
     lambda m: f'backbone.layer{int(m.group(1)) - 1}.{m.group(2)}.conv{m.group(3)}.weight'),
    (r'^backbone\.bottom_up\.res(\d)\.(\d+)\.conv(\d)\.norm\.(\w+)$',
     lambda m: f'backbone.layer{int(m.group(1)) - 1}.{m.group(2)}.bn{m.group(3)}.{m.group(4)}'),
    (r'^backbone\.bottom_up\.res(\d)\.(\d+)\.shortcut\.weight$',
     lambda m: f'backbone.layer{int(m.group(1)) - 1}.{m.group(2)}.downsample.0.weight'),
    (r'^backbone\.bottom_up\.res(\d)\.(\d+)\.shortcut\.norm\.(\w+)$',
     lambda m: f'backbone.layer{int(m.group(1)) - 1}.{m.group(2)}.downsample.1.{m.group(3)}'),
    (r'^backbone\.fpn_lateral(\d)\.(weight|bias)$',
     lambda m: f'neck.lateral_convs.{int(m.group(1)) - 2}.conv.{m.group(2)}'),
    (r'^backbone\.fpn_output(\d)\.(weight|bias)$',
     lambda m: f'neck.fpn_convs.{int(m.group(1)) - 2}.conv.{m.group(2)}'),
    (r'^backbone\.top_block\.p(6|7)\.(weight|bias)$',
     lambda m: f'neck.fpn_convs.{int(m.group(1)) - 2}.conv.{m.group(2)}'),
    (r'^semantic_fpn\.p(\d)\.(\d+)\.weight$',
     lambda m: f'feature_encoder.scale_heads.{int(m.group(1)) - 2}.{m.group(2)}.conv.weight'),
    (r'^semantic_fpn\.p(\d)\.(\d+)\.norm\.(weight|bias)$',
     lambda m: f'feature_encoder.scale_heads.{int(m.group(1)) - 2}.{m.group(2)}.gn.{m.group(3)}'),
    (r'^feature_encoder\.encode_head\.encode_head_head_(\d+)\.(.+)$', _tower('feature_encoder.encode_convs')),
    (r'^position_head\.position_head\.position_head_head_(\d+)\.(.+)$',
     _tower('kernel_generator.position_head.convs')),
    (r'^position_head\.out_inst\.(weight|bias)$',
     lambda m: f'kernel_generator.position_head.center_conv.{m.group(1)}'),
    (r'^position_head\.out_sem\.(weight|bias)$',
     lambda m: f'kernel_generator.position_head.region_conv.{m.group(1)}'),
    (r'^kernel_head\.kernel_head\.kernel_head_head_(\d+)\.(.+)$',
     _tower('kernel_generator.kernel_head.convs')),
    (r'^kernel_head\.out_conv\.(weight|bias)$',
     lambda m: f'kernel_generator.kernel_head.out_conv.{m.group(1)}'),
    (r'^thing_generator\.embed_extractor\.(weight|bias)$',
     lambda m: f'kernel_generator.kernel_head.thing_embed.{m.group(1)}'),
    (r'^stuff_generator\.embed_extractor\.(weight|bias)$',
     lambda m: f'kernel_generator.kernel_head.stuff_embed.{m.group(1)}'),
]


def rename_key(key: str) -> str:
    """Target name of one detectron2 key; raises ``KeyError`` if no rule matches."""
    for pattern, rename in RULES:
        m = re.match(pattern, key)
        if m:
            return rename(m)
    raise KeyError(key)


def convert_state_dict(source: Dict[str, torch.Tensor],
                       target_shapes: Dict[str, torch.Size]) -> 'OrderedDict[str, torch.Tensor]':
    """Rename every source tensor and check the result against the target model's keys and shapes.

    BatchNorm's ``num_batches_tracked`` counters have no detectron2 counterpart (FrozenBN keeps
    none) and are set to 0. Raises ``ValueError`` listing unmapped, unexpected, missing and
    mis-shaped keys.
    """
    converted: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    unmapped, duplicate = [], []
    for key, value in source.items():
        try:
            new_key = rename_key(key)
        except KeyError:
            unmapped.append(key)
            continue
        if new_key in converted:
            duplicate.append(new_key)
        converted[new_key] = value
    for key in target_shapes:
        if key.endswith('num_batches_tracked') and key not in converted:
            converted[key] = torch.tensor(0, dtype=torch.long)
    unexpected = sorted(set(converted) - set(target_shapes))
    missing = sorted(set(target_shapes) - set(converted))
    mis_shaped = sorted(f'{k}: source {tuple(converted[k].shape)} vs model {tuple(target_shapes[k])}'
                        for k in set(converted) & set(target_shapes)
                        if tuple(converted[k].shape) != tuple(target_shapes[k]))
    problems = [(name, keys) for name, keys in (
        ('source keys no rule maps', unmapped), ('target keys mapped twice', duplicate),
        ('mapped keys the model does not have', unexpected), ('model keys left unfilled', missing),
        ('shape mismatches', mis_shaped)) if keys]
    if problems:
        lines = [f'{name} ({len(keys)}):\n  ' + '\n  '.join(keys) for name, keys in problems]
        raise ValueError('checkpoint conversion failed:\n' + '\n'.join(lines))
    return OrderedDict((k, converted[k].contiguous()) for k in target_shapes)


def target_shapes_for(config: str, cfg_options: dict) -> Dict[str, torch.Size]:
    """Keys and shapes of the mmpfcn model a config builds (no weights are loaded)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import mmpfcn  # noqa: F401
    from mmdet.registry import MODELS

    cfg = Config.fromfile(config)
    cfg.merge_from_dict(cfg_options)
    cfg.model.backbone.init_cfg = None
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = MODELS.build(cfg.model)
    return OrderedDict((k, v.shape) for k, v in model.state_dict().items())


def load_detectron2_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """Read ``{"model": state_dict}`` (or a bare state dict) with ``weights_only`` loading."""
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    state = ckpt.get('model', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f'{path}: expected a detectron2 checkpoint {{"model": state_dict}} of tensors')
    return state


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='official detectron2 checkpoint (.pth)')
    parser.add_argument('dst', help='output MMEngine checkpoint')
    parser.add_argument('--variant', choices=sorted(VARIANTS), default='default',
                        help='architecture of the source: default = deformable position head '
                        '(all official R50 checkpoints), plain = ordinary convs, star = Panoptic FCN*')
    parser.add_argument('--config', help='mmpfcn config of the target model (overrides the variant\'s)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    config, cfg_options = VARIANTS[args.variant]
    config = args.config or osp.join(CONFIG_DIR, config)
    source = load_detectron2_state_dict(args.src)
    try:
        state = convert_state_dict(source, target_shapes_for(config, cfg_options))
    except ValueError as err:
        sys.exit(f'{args.src}: {err}')
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    tmp = args.dst + '.tmp'
    torch.save({'state_dict': state, 'meta': {'converted_from': osp.basename(args.src),
                                               'variant': args.variant, 'config': config}}, tmp)
    os.replace(tmp, args.dst)
    print(f'wrote {args.dst}: {len(state)} tensors from {len(source)} source keys')


if __name__ == '__main__':
    main()
