"""The authors' (detectron2) Panoptic FCN state dicts, converted for an mmpfcn model.

One rule table maps every key of the authors' state dict onto mmpfcn's names.
A conversion is checked against the target model: every target key must be
filled with the right shape, and anything left over on either side is an
error listing the keys. The authors released three variants, told apart by
their keys:

- ``plain``: ordinary convs in the position head (``POSITION_HEAD.DEFORM =
  False``);
- ``default``: a deformable position head (``offset_mask_conv`` keys), as all
  released R50 checkpoints;
- ``star``: Panoptic FCN*, also a deformable 256-channel feature encoder.

A checkpoint of one variant into a model of another is refused with the
config options that select the checkpoint's variant.
"""
import re
from collections import OrderedDict
from typing import Callable, Dict, Iterable, List, Mapping, NamedTuple, Set, Tuple

import torch

from ...utils.checkpoint_format import is_authors_state_dict

Shapes = Mapping[str, torch.Size]


class IncompatibleCheckpointError(ValueError):
    """A checkpoint that does not fit the model it is loaded into."""


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
    (r'^feature_encoder\.encode_head\.encode_head_head_(\d+)\.(.+)$',
     _tower('feature_encoder.encode_convs')),
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

# Deformable convs of each part, on mmpfcn's names, and the config options that select them.
DEFORMABLE_PARTS = {
    'position head': (
        re.compile(r'^kernel_generator\.position_head\.convs\.\d+\.conv\.conv_offset\.'),
        "model.kernel_generator.position_head.conv_cfg=dict(type='SampledDCNv2')",
        'model.kernel_generator.position_head.conv_cfg=None'),
    'feature encoder': (
        re.compile(r'^feature_encoder\.encode_convs\.\d+\.conv\.conv_offset\.'),
        "model.feature_encoder.encoder_conv_cfg=dict(type='SampledDCNv2'), "
        'model.feature_encoder.out_channels=256 and '
        'model.kernel_generator.kernel_head.embed_channels=256 (as the panoptic-fcn-star configs)',
        'model.feature_encoder.encoder_conv_cfg=None, model.feature_encoder.out_channels=64 and '
        'model.kernel_generator.kernel_head.embed_channels=64'),
}


class Variant(NamedTuple):
    """Which parts of a Panoptic FCN model have deformable convs."""
    deform_position_head: bool
    deform_encoder: bool

    @classmethod
    def of(cls, keys: Iterable[str]) -> 'Variant':
        """The variant of a state dict with mmpfcn's key names."""
        keys = list(keys)
        position, encoder = (any(pattern.match(k) for k in keys)
                             for pattern, _, _ in DEFORMABLE_PARTS.values())
        return cls(position, encoder)

    @property
    def name(self) -> str:
        """The authors' name: ``plain``, ``default`` (the released R50 models) or ``star``."""
        if self.deform_encoder:
            return 'star'
        return 'default' if self.deform_position_head else 'plain'

    def describe(self) -> str:
        """E.g. ``variant 'default' (deformable position head, plain feature encoder)``."""
        parts = [f'{"deformable" if deform else "plain"} {part}'
                 for deform, part in zip(self, DEFORMABLE_PARTS)]
        return f"variant '{self.name}' ({', '.join(parts)})"


def rename_key(key: str) -> str:
    """Target name of one detectron2 key; raises ``KeyError`` if no rule matches."""
    for pattern, rename in RULES:
        m = re.match(pattern, key)
        if m:
            return rename(m)
    raise KeyError(key)


def renamed_keys(keys: Iterable[str]) -> Set[str]:
    """mmpfcn names of the keys that a rule maps."""
    renamed = set()
    for key in keys:
        try:
            renamed.add(rename_key(key))
        except KeyError:
            continue
    return renamed


def authors_variant(source: Iterable[str]) -> Variant:
    """The variant of an authors' state dict (or its keys)."""
    return Variant.of(renamed_keys(source))


def convert_state_dict(source: Mapping[str, torch.Tensor],
                       target_shapes: Shapes) -> 'OrderedDict[str, torch.Tensor]':
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


def check_variant(source: Mapping[str, torch.Tensor], target_shapes: Shapes, name: str) -> None:
    """Refuse an authors' state dict of another variant than the target model's, naming both,
    the keys that differ and the config options that select the checkpoint's variant."""
    renamed = renamed_keys(source)
    theirs, ours = Variant.of(renamed), Variant.of(target_shapes)
    if theirs == ours:
        return
    lines = [f"{name} is an authors' Panoptic FCN checkpoint of {theirs.describe()}, "
             f'but the config builds {ours.describe()}.']
    for label, keys in (('checkpoint keys the model lacks', renamed - set(target_shapes)),
                        ('model keys the checkpoint lacks', set(target_shapes) - renamed)):
        keys = sorted(k for k in keys if not k.endswith('num_batches_tracked'))
        if keys:
            lines.append(f'{label} ({len(keys)}): ' + ', '.join(keys))
    for (part, (_, deform_option, plain_option)), deform, built in zip(DEFORMABLE_PARTS.items(),
                                                                      theirs, ours):
        if deform != built:
            lines.append(f'To load it, set {deform_option if deform else plain_option} '
                         f'(the checkpoint has a {"deformable" if deform else "plain"} {part}).')
    raise IncompatibleCheckpointError('\n'.join(lines))


def convert_for_model(source: Mapping[str, torch.Tensor], target_shapes: Shapes,
                      name: str = 'the checkpoint') -> 'OrderedDict[str, torch.Tensor]':
    """An authors' state dict converted for a model with ``target_shapes`` (key -> shape);
    ``name`` (the file or URL) heads every error."""
    check_variant(source, target_shapes, name)
    try:
        return convert_state_dict(source, target_shapes)
    except ValueError as error:
        raise IncompatibleCheckpointError(f'{name}: {error}') from error


def convert_in_place(state_dict: Dict[str, torch.Tensor], prefix: str, target_shapes: Shapes,
                     name: str = 'the checkpoint') -> None:
    """Replace an authors' state dict under ``prefix`` by its conversion for ``target_shapes``;
    refuse a state dict that holds none of the target's keys (another architecture), which
    MMEngine would otherwise load with nothing but a warning."""
    own = {key[len(prefix):]: value for key, value in state_dict.items() if key.startswith(prefix)}
    if is_authors_state_dict(own):
        converted = convert_for_model(own, target_shapes, name)
        for key in own:
            del state_dict[prefix + key]
        state_dict.update((prefix + key, value) for key, value in converted.items())
    elif not set(own) & set(target_shapes):
        roots = sorted({key.split('.', 1)[0] for key in own})
        raise IncompatibleCheckpointError(
            f'{name} holds none of the model\'s {len(target_shapes)} state-dict keys: it is '
            'neither an mmpfcn checkpoint of this model nor an authors\' Panoptic FCN checkpoint '
            f'(its keys start with {", ".join(roots[:10]) or "nothing"}). For backbone weights, use '
            "model.backbone.init_cfg=dict(type='Pretrained', checkpoint=...).")
