"""Checks of a Panoptic FCN config before anything is built.

:func:`validate_config` (run by ``tools/train.py`` and ``tools/test.py``)
turns mistakes that would otherwise fail late, obscurely or not at all into a
:class:`ConfigError` that names the config key: unknown or misspelt keys of
the model's sections and of its ``test_cfg``, class counts that disagree
between the model and a dataset, and FPN levels without a matching instance
scale range or centre pool size.
"""
import difflib
import inspect
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from mmdet.registry import DATASETS, MODELS, TASK_UTILS
from mmengine.config import Config, ConfigDict
from mmengine.registry import Registry

from ..models import KernelFusion, PanopticFCN

# Sections built by helpers that add or remove keys before the constructor
# (build_norm_layer, build_conv_layer, init configs, ...) are not checked.
UNCHECKED_SUFFIX = '_cfg'
SECTION_REGISTRIES: Dict[str, Registry] = {'target_generator': TASK_UTILS}
REQUIRED_SECTIONS = ('backbone', 'neck', 'feature_encoder', 'kernel_generator')
DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
# Sections that receive the detector's class counts; one given there must agree.
CLASS_COUNT_SECTIONS = ('kernel_generator', 'kernel_generator.position_head',
                        'kernel_generator.target_generator',
                        'panoptic_fusion_head')


class ConfigError(ValueError):
    """A config setting that cannot work; the message names its key."""


def constructor_defaults(cls: Any) -> Optional[Dict[str, Any]]:
    """Keyword arguments of ``cls`` with their defaults (``inspect.Parameter
    .empty`` for required ones); ``None`` if it takes ``**kwargs`` or is not
    a class with a signature."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name: p.default for p in params}


def check_section_keys(section: dict, path: str,
                       registry: Registry = MODELS) -> None:
    """Raise on a key of ``section`` (and of its nested sections) that its
    ``type``'s constructor does not take, suggesting the closest key."""
    cls = registry.get(section['type'])
    accepted = None if cls is None else constructor_defaults(cls)
    for key in sorted(set(section) - {'type'} - set(accepted or section)):
        guess = difflib.get_close_matches(key, list(accepted), n=1)
        hint = f'did you mean "{guess[0]}"? ' if guess else ''
        raise ConfigError(
            f'{path}.{key}: {cls.__name__} has no argument "{key}"; {hint}'
            f'its arguments are {sorted(accepted)}')
    for key, value in section.items():
        if not isinstance(value, dict) or key.endswith(UNCHECKED_SUFFIX):
            continue
        default = (accepted or {}).get(key)
        if 'type' in value:
            check_section_keys(value, f'{path}.{key}',
                               SECTION_REGISTRIES.get(key, MODELS))
        elif isinstance(default, dict) and 'type' in default:
            raise ConfigError(
                f'{path}.{key} has no "type": a section replaces '
                f'{cls.__name__}\'s default {default} instead of updating '
                'it, so give the whole section')


def setting(section: dict, key: str, registry: Registry = MODELS) -> Any:
    """``section[key]``, else the default of ``section``'s type for ``key``;
    ``None`` where neither exists."""
    if key in section:
        return section[key]
    defaults = constructor_defaults(registry.get(section['type'])) or {}
    default = defaults.get(key)
    return None if default is inspect.Parameter.empty else default


def leaf_datasets(dataset: dict, path: str) -> Iterator[Tuple[dict, str]]:
    """The datasets inside dataset wrappers (``dataset``/``datasets``)."""
    if 'dataset' in dataset:
        yield from leaf_datasets(dataset['dataset'], f'{path}.dataset')
    elif 'datasets' in dataset:
        for index, inner in enumerate(dataset['datasets']):
            yield from leaf_datasets(inner, f'{path}.datasets[{index}]')
    else:
        yield dataset, path


def dataset_classes(dataset: dict, kind: str) -> Optional[Sequence[str]]:
    """``thing_classes`` or ``stuff_classes`` of a dataset config: from its
    ``metainfo``, else from its class's ``METAINFO``."""
    metainfo = dataset.get('metainfo') or {}
    if kind in metainfo:
        return metainfo[kind]
    cls = DATASETS.get(dataset.get('type', ''))
    return getattr(cls, 'METAINFO', {}).get(kind)


def check_class_counts(cfg: Config, model: dict) -> None:
    """The model's thing and stuff class counts equal every dataset's."""
    datasets = [
        found for loader in DATALOADERS
        if isinstance(cfg.get(loader), dict) and 'dataset' in cfg[loader]
        for found in leaf_datasets(cfg[loader]['dataset'], f'{loader}.dataset')
    ]
    for key, kind in (('num_things_classes', 'thing_classes'),
                      ('num_stuff_classes', 'stuff_classes')):
        count = setting(model, key)
        for path in CLASS_COUNT_SECTIONS:
            section = model
            for name in path.split('.'):
                section = section.get(name) or {}
            if key in section and section[key] != count:
                raise ConfigError(
                    f'model.{path}.{key}={section[key]} disagrees with '
                    f'{key}={count} of the model; declare class counts '
                    f'once, as model.{key}')
        for dataset, path in datasets:
            names = dataset_classes(dataset, kind)
            if names is not None and len(names) != count:
                raise ConfigError(
                    f'model.{key}={count} but {path} has '
                    f'{len(names)} {kind} {tuple(names)}')


def check_levels(model: dict) -> None:
    """Every FPN level the heads use exists and has one instance scale range
    and one centre pool size; the ranges leave no gap between levels."""
    num_outs = setting(model['neck'], 'num_outs')
    generator = model['kernel_generator']
    for path, indices in (
        ('kernel_generator.in_indices', setting(generator, 'in_indices')),
        ('feature_encoder.in_indices',
         setting(model['feature_encoder'], 'in_indices'))):
        if num_outs is not None and max(indices) >= num_outs:
            raise ConfigError(
                f'model.{path}={tuple(indices)} but the neck has only '
                f'{num_outs} levels (model.neck.num_outs)')
    num_levels = len(setting(generator, 'in_indices'))
    targets = setting(generator, 'target_generator')
    scales: List[Tuple[float, float]] = [
        tuple(s) for s in setting(targets, 'instance_scales', TASK_UTILS)
    ]
    pools = (model.get('test_cfg') or {}).get(
        'center_pool_sizes', KernelFusion.default_test_cfg['center_pool_sizes'])
    for path, values in (
        ('kernel_generator.target_generator.instance_scales', scales),
        ('test_cfg.center_pool_sizes', pools)):
        if len(values) != num_levels:
            raise ConfigError(
                f'model.{path} has {len(values)} entries for the '
                f'{num_levels} FPN levels of model.kernel_generator.in_indices'
                f'={tuple(setting(generator, "in_indices"))}: give one per '
                'level')
    path = 'model.kernel_generator.target_generator.instance_scales'
    for index, (low, high) in enumerate(scales):
        if not low < high:
            raise ConfigError(f'{path}[{index}]=({low}, {high}) is empty')
        if index and low > scales[index - 1][1]:
            raise ConfigError(
                f'{path}: instances of size {scales[index - 1][1]} to {low} '
                f'(between ranges {index - 1} and {index}) fall on no FPN '
                'level; the ranges must overlap or touch')


def validate_config(cfg: Config) -> None:
    """Check a config whose model is Panoptic FCN; other models pass.

    Raises:
        ConfigError: For the first problem found.
    """
    model = cfg.get('model')
    if not isinstance(model, (dict, ConfigDict)):
        return
    cls = MODELS.get(model.get('type', ''))
    if not (inspect.isclass(cls) and issubclass(cls, PanopticFCN)):
        return
    missing = [key for key in REQUIRED_SECTIONS if key not in model]
    if missing:
        raise ConfigError(f'model: {cls.__name__} needs the section(s) '
                          f'{missing}')
    check_section_keys(model, 'model')
    try:
        cls.check_test_cfg_keys(model.get('test_cfg') or {})
    except ValueError as error:
        raise ConfigError(str(error)) from None
    check_class_counts(cfg, model)
    check_levels(model)
