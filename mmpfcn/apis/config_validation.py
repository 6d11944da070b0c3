"""Checks of a config before anything is built.

:func:`validate_config` (run by :func:`~mmpfcn.apis.load_config`, so by
``tools/train.py``, ``tools/test.py`` and the main job, and by
``DetInferencer`` through :mod:`mmpfcn.apis.inferencer`) turns mistakes that
would otherwise fail late, obscurely or not at all into a :class:`ConfigError`
that names the config key and its value:

- every section built from a registry (datasets and their pipeline steps,
  samplers, loops, parameter schedulers, hooks, the optimizer wrapper and
  optimizer, evaluators, the visualizer; a Panoptic FCN model and its parts),
  each dataloader and the optimizer's ``paramwise_cfg``: keys that the class
  does not take, with the closest key it does, and values of the wrong type,
  as the class's ``__init__`` annotates the argument or, where it does not,
  as its default is; ``**kwargs`` are followed to the base classes'
  ``__init__``. Other models are not walked: MMDetection's hand sections to
  helpers that add and remove keys (DETR's ``bg_cls_weight``, VFNet's
  ``dcn_on_last_conv``, ...);
- a Panoptic FCN model: its ``test_cfg`` keys and types, class counts that
  disagree between the model and a dataset, FPN levels without a matching
  instance scale range or centre pool size, heads whose input width is not the
  FPN's, and the range checks of its weightless inference parts, which are
  built here for that.
"""
import ast
import collections.abc
import difflib
import inspect
import types
import typing
from typing import (Any, Dict, Iterator, List, Mapping, NamedTuple, Optional,
                    Sequence, Tuple, Union)

from mmdet.registry import (DATA_SAMPLERS, DATASETS, HOOKS, LOG_PROCESSORS,
                            LOOPS, METRICS, MODELS, OPTIM_WRAPPERS, OPTIMIZERS,
                            PARAM_SCHEDULERS, TASK_UTILS, TRANSFORMS,
                            VISBACKENDS, VISUALIZERS)
from mmengine.config import Config, ConfigDict
from mmengine.hooks import CheckpointHook
from mmengine.optim import AmpOptimWrapper
from mmengine.registry import FUNCTIONS, Registry
from mmengine.runner import Priority
from torch import Tensor
from torch.utils.data import DataLoader

from ..models import KernelFusion, PanopticFCN, PanopticFCNFusionHead

# Sections built by helpers that add or remove keys before the constructor
# (build_norm_layer, build_conv_layer, init configs, ResNet's dcn, ...) are not
# checked.
UNCHECKED_SUFFIX = '_cfg'
HELPER_SECTIONS = ('dcn', )
# Packages whose annotations say what their classes take. MMDetection's and
# MMCV's are often narrower than that (Tuple[int, int] for float box sizes,
# float for a per-channel tuple), so for their classes only a string given
# where none is taken is refused.
TRUSTED_PACKAGES = ('mmpfcn', 'mmengine', 'torch')
# Keys of a section that the registry's builder reads and removes.
BUILDER_KEYS = {'type', '_scope_'}
# Registries of nested sections by key; other nested sections are built from
# the registry of the section holding them.
SECTION_REGISTRIES: Dict[str, Registry] = {
    'target_generator': TASK_UTILS,
    'dataset': DATASETS,
    'datasets': DATASETS,
    'pipeline': TRANSFORMS,
    'sampler': DATA_SAMPLERS,
    'batch_sampler': DATA_SAMPLERS,
    'collate_fn': FUNCTIONS,
    'worker_init_fn': FUNCTIONS,
    'optimizer': OPTIMIZERS,
    'vis_backends': VISBACKENDS,
}
# Classes whose **kwargs take no key: MMEngine's CheckpointHook passes them
# to Runner.save_checkpoint together with every argument that takes.
CLOSED_KWARGS = (CheckpointHook, )
# Annotations narrower than what the class documents and takes.
ANNOTATION_FIXES = {(AmpOptimWrapper, 'loss_scale'): Union[str, float, dict]}
# Container annotations whose values a config writes as a list or tuple, and
# mapping annotations it writes as a dict.
SEQUENCES = (list, tuple, collections.abc.Sequence,
             collections.abc.MutableSequence, collections.abc.Collection,
             collections.abc.Iterable)
MAPPINGS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)
REQUIRED_SECTIONS = ('backbone', 'neck', 'feature_encoder', 'kernel_generator')
DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
# Sections that receive the detector's class counts; one given there must agree.
CLASS_COUNT_SECTIONS = ('kernel_generator', 'kernel_generator.position_head',
                        'kernel_generator.target_generator',
                        'panoptic_fusion_head')
# Sections that read the FPN levels: their in_channels is the neck's width.
FPN_READERS = ('feature_encoder', 'kernel_generator.position_head',
               'kernel_generator.kernel_head')
# Every key some inference part reads from a Panoptic FCN test_cfg, with the
# default whose type it takes.
TEST_CFG_DEFAULTS = {
    **PanopticFCN.view_test_cfg, **KernelFusion.default_test_cfg,
    **PanopticFCNFusionHead.default_test_cfg
}


class ConfigError(ValueError):
    """A config setting that cannot work; the message names its key."""


class Arguments(NamedTuple):
    """The keyword arguments a class or function takes, by name, and whether
    it also takes others that cannot be known (``**kwargs`` used by the class
    itself)."""
    params: Dict[str, inspect.Parameter]
    open: bool


def declared(**annotations: Any) -> Dict[str, inspect.Parameter]:
    """Keyword arguments with these annotations, for keys that the runner or
    a builder reads instead of a constructor."""
    return {
        name: inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
        for name, annotation in annotations.items()
    }


# Keys the runner takes besides a dataloader's, a hook's and a scheduler's
# arguments, and the keys of DefaultOptimWrapperConstructor's paramwise_cfg
# and of its custom_keys entries (read with .get, not as arguments).
DATALOADER_EXTRAS = declared(
    num_batch_per_epoch=Optional[int], disable_subprocess_warning=bool)
HOOK_EXTRAS = declared(priority=Union[int, str, Priority])
SCHEDULER_EXTRAS = declared(convert_to_iter_based=bool)
OPTIM_WRAPPER_EXTRAS = declared(constructor=Union[str, type],
                                paramwise_cfg=Optional[dict])
PARAMWISE_KEYS = declared(
    bias_lr_mult=float, bias_decay_mult=float, norm_decay_mult=float,
    dwconv_decay_mult=float, flat_decay_mult=float, dcn_offset_lr_mult=float,
    bypass_duplicate=bool, custom_keys=dict)
CUSTOM_KEY_SETTINGS = declared(lr_mult=float, decay_mult=float)


def resolved(annotation: Any, func: Any) -> Any:
    """``annotation`` of ``func``, resolved in its module where it is written
    as a string (``from __future__ import annotations``); ``Any`` where it
    names what only type checkers import. One at a time, since
    ``typing.get_type_hints`` of ``func`` gives up on all for one such
    name."""
    if not isinstance(annotation, str):
        return annotation
    holder = types.SimpleNamespace(__annotations__={'value': annotation})
    try:
        return typing.get_type_hints(holder,
                                     getattr(func, '__globals__', {}))['value']
    except Exception:  # any error of resolving someone else's annotation
        return Any


def signature_arguments(
        func: Any, bound: bool = False) -> Tuple[Dict[str, inspect.Parameter],
                                                 bool]:
    """The keyword-capable parameters of ``func`` (less ``self`` where
    ``bound``) with their annotations resolved, and whether it takes
    ``**kwargs``."""
    params = list(inspect.signature(func).parameters.values())[int(bound):]
    named = {
        p.name: p.replace(annotation=resolved(p.annotation, func))
        for p in params if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                      inspect.Parameter.KEYWORD_ONLY)
    }
    return named, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def arguments(obj: Any) -> Optional[Arguments]:
    """What the class or function ``obj`` takes; a class's ``**kwargs`` are
    followed to the ``__init__`` of its bases (MMEngine's loops, hooks,
    optimizer wrappers and schedulers, MMDet's datasets pass them on), except
    for :data:`CLOSED_KWARGS`. ``None`` if ``obj`` has no signature."""
    try:
        if not inspect.isclass(obj):
            return Arguments(*signature_arguments(obj))
        params: Dict[str, inspect.Parameter] = {}
        # The last class with an __init__ is object, which takes nothing.
        *inits, _ = [k for k in obj.__mro__ if '__init__' in vars(k)]
        for klass in inits:
            own, more = signature_arguments(vars(klass)['__init__'], True)
            params = {**own, **params}
            if not more or klass in CLOSED_KWARGS:
                return Arguments(params, False)
    except (TypeError, ValueError):
        return None
    # Without an __init__ of its own the class takes nothing; else its
    # **kwargs reach object, so the class uses them itself.
    return Arguments(params, bool(inits))


def constructor_defaults(cls: Any) -> Dict[str, Any]:
    """Keyword arguments of ``cls`` with their defaults (``inspect.Parameter
    .empty`` for required ones); empty if they cannot be known."""
    found = arguments(cls)
    return {} if found is None else {
        name: p.default for name, p in found.params.items()
    }


def expected_type(owner: Any, param: inspect.Parameter) -> Any:
    """What ``param`` of ``owner`` takes: its annotation, else its default's
    type; ``Any`` where neither says."""
    fixed = ANNOTATION_FIXES.get((owner, param.name))
    if fixed is not None:
        return fixed
    if param.annotation is not inspect.Parameter.empty:
        return param.annotation
    if param.default is inspect.Parameter.empty or param.default is None:
        return Any
    return type(param.default)


def fits(expected: Any, value: Any) -> bool:
    """Whether a config may give ``value`` where ``expected`` (an annotation or
    a type) is taken. Numbers, booleans and strings are judged (an int is a
    float, ``None`` fits anywhere, as it unsets a key); a dict, list or tuple
    fits any container (builders take a list of sections where one is
    annotated and the reverse), and only the items of a list or tuple are
    judged, against a sequence's item type. Other types take anything, since
    a config describes objects as dicts."""
    if value is None or expected is Any:
        return True
    origin, args = typing.get_origin(expected), typing.get_args(expected)
    if origin in (Union, types.UnionType):
        return any(fits(arg, value) for arg in args)
    if expected is bool:
        return isinstance(value, bool)
    if expected in (int, float):
        return isinstance(value, (int, expected)) and not isinstance(
            value, bool)
    if expected is str:
        return isinstance(value, str)
    if expected is type(None):
        return False
    if expected is Tensor:
        # A config gives a tensor as a number or nested lists, never as text.
        return not isinstance(value, (str, dict))
    container = origin or expected
    if container not in MAPPINGS + SEQUENCES:
        return True
    if not isinstance(value, (dict, list, tuple)):
        return False
    if container in MAPPINGS or isinstance(value, dict) or not args:
        return True
    if container is tuple and args[-1] is not Ellipsis:
        return len(args) == len(value) and all(map(fits, args, value))
    return all(fits(args[0], item) for item in value)


def wrong_type(owner: Any, expected: Any, value: Any) -> bool:
    """Whether ``value`` cannot be given where ``owner`` (a class, a function
    or ``None`` for keys declared here) takes ``expected``; for owners outside
    :data:`TRUSTED_PACKAGES` only a string is judged."""
    package = getattr(owner, '__module__', '').split('.')[0]
    trusted = owner is None or package in TRUSTED_PACKAGES
    return (trusted or isinstance(value, str)) and not fits(expected, value)


def type_error(path: str, value: Any, owner: str,
               expected: Any) -> ConfigError:
    """The error for ``value`` at ``path``, which ``owner`` takes as
    ``expected``; a quoted literal of the right type is shown unquoted."""
    fix = 'give a value of that type'
    if isinstance(value, str):
        try:
            literal = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            literal = value
        if not isinstance(literal, str) and fits(expected, literal):
            fix = (f'write it without quotes: {path.rsplit(".", 1)[-1]}='
                   f'{literal!r}')
    return ConfigError(
        f'{path}={value!r}: {owner} takes {inspect.formatannotation(expected)}'
        f' there, not {type(value).__name__}; {fix}')


def check_arguments(section: Mapping, path: str, owner: Any, name: str,
                    args: Arguments, registry: Registry) -> None:
    """Raise on a key of ``section`` that ``args`` does not take, suggesting
    the closest key, or on a value of the wrong type; then check the sections
    nested in it. ``owner`` is the class or function (``name`` in
    messages)."""
    accepted = args.params
    unknown = [] if args.open else sorted(set(section) - BUILDER_KEYS -
                                          set(accepted))
    for key in unknown:
        guess = difflib.get_close_matches(key, list(accepted), n=1)
        hint = f'did you mean "{guess[0]}"? ' if guess else ''
        raise ConfigError(
            f'{path}.{key}: {name} has no argument "{key}"; {hint}'
            f'its arguments are {sorted(accepted)}')
    for key, value in section.items():
        if key in accepted:
            expected = expected_type(owner, accepted[key])
            if wrong_type(owner, expected, value):
                raise type_error(f'{path}.{key}', value, name, expected)
    for key, value in section.items():
        if key.endswith(UNCHECKED_SUFFIX) or key in HELPER_SECTIONS:
            continue
        inner = SECTION_REGISTRIES.get(key, registry)
        default = accepted[key].default if key in accepted else None
        if isinstance(value, dict) and 'type' in value:
            check_section(value, f'{path}.{key}', inner)
        elif isinstance(value, dict) and isinstance(
                default, dict) and 'type' in default:
            raise ConfigError(
                f'{path}.{key} has no "type": a section replaces '
                f'{name}\'s default {default} instead of updating '
                'it, so give the whole section')
        elif isinstance(value, (list, tuple)):
            check_section_list(value, f'{path}.{key}', inner)


def check_section(
        section: Mapping,
        path: str,
        registry: Registry = MODELS,
        extras: Optional[Dict[str, inspect.Parameter]] = None) -> None:
    """Check ``section`` against the arguments of the class its ``type``
    names in ``registry`` (plus ``extras``, keys the runner takes); a type
    the registry does not know is left to the builder."""
    kind = section['type']
    scope = section.get('_scope_', registry.scope)
    if isinstance(kind, str) and scope != registry.scope and '.' not in kind:
        kind = f'{scope}.{kind}'
    owner = registry.get(kind) if isinstance(kind, str) else kind
    args = None if owner is None else arguments(owner)
    if args is None:
        args = Arguments({}, True)
    name = getattr(owner, '__name__', str(kind))
    check_arguments(section, path, owner, name,
                    Arguments({**args.params, **(extras or {})}, args.open),
                    registry)


def check_section_list(
        items: Sequence,
        path: str,
        registry: Registry,
        extras: Optional[Dict[str, inspect.Parameter]] = None) -> None:
    """Check the sections of a list (a pipeline, hooks, schedulers, ...),
    also inside nested lists."""
    for index, item in enumerate(items):
        if isinstance(item, dict) and 'type' in item:
            check_section(item, f'{path}[{index}]', registry, extras)
        elif isinstance(item, (list, tuple)):
            check_section_list(item, f'{path}[{index}]', registry, extras)


def check_optional_sections(
        cfg: Config,
        key: str,
        registry: Registry,
        default_type: Optional[str] = None,
        extras: Optional[Dict[str, inspect.Parameter]] = None) -> None:
    """Check ``cfg[key]`` where it is a section or a list of them; a section
    without ``type`` is built as ``default_type`` where the runner has one."""
    value = cfg.get(key)
    if isinstance(value, dict):
        if 'type' not in value and default_type is not None:
            value = {**value, 'type': default_type}
        if 'type' in value:
            check_section(value, key, registry, extras)
    elif isinstance(value, (list, tuple)):
        check_section_list(value, key, registry, extras)


def check_train_loop(cfg: Config) -> None:
    """``train_cfg``: a loop, or ``by_epoch`` choosing one as the runner
    does (never both, which the runner refuses)."""
    loop = cfg.get('train_cfg')
    if not isinstance(loop, dict):
        return
    if 'type' in loop and 'by_epoch' in loop:
        raise ConfigError(
            f'train_cfg.by_epoch={loop["by_epoch"]!r} next to train_cfg.type='
            f'{loop["type"]!r}: the runner takes one of them (by_epoch picks '
            'the loop type), so drop one')
    if 'by_epoch' not in loop:
        check_optional_sections(cfg, 'train_cfg', LOOPS)
        return
    kind = 'EpochBasedTrainLoop' if loop['by_epoch'] else 'IterBasedTrainLoop'
    check_section({**loop, 'type': kind}, 'train_cfg', LOOPS,
                  declared(by_epoch=bool))


def check_dataloaders(cfg: Config) -> None:
    """Each dataloader's keys (``DataLoader``'s arguments and the runner's),
    its dataset, pipeline and samplers."""
    loader_args = Arguments({
        **arguments(DataLoader).params,
        **DATALOADER_EXTRAS
    }, False)
    for key in DATALOADERS:
        loader = cfg.get(key)
        if isinstance(loader, dict):
            check_arguments(loader, key, DataLoader, 'DataLoader',
                            loader_args, DATASETS)


def check_default_hooks(cfg: Config) -> None:
    """``default_hooks``: a hook (or ``None``) by name."""
    hooks = cfg.get('default_hooks')
    if not isinstance(hooks, dict):
        return
    for name, hook in hooks.items():
        if isinstance(hook, dict) and 'type' in hook:
            check_section(hook, f'default_hooks.{name}', HOOKS, HOOK_EXTRAS)


def check_optim_wrapper(cfg: Config) -> None:
    """``optim_wrapper``, its ``optimizer`` and, with MMEngine's default
    constructor, its ``paramwise_cfg`` (whose ``custom_keys`` entries take
    ``lr_mult``, ``decay_mult`` and the optimizer's arguments)."""
    wrapper = cfg.get('optim_wrapper')
    if not isinstance(wrapper, dict) or 'optimizer' not in wrapper:
        return
    check_section({'type': 'OptimWrapper', **wrapper}, 'optim_wrapper',
                  OPTIM_WRAPPERS, OPTIM_WRAPPER_EXTRAS)
    paramwise = wrapper.get('paramwise_cfg')
    constructor = wrapper.get('constructor', 'DefaultOptimWrapperConstructor')
    if constructor != 'DefaultOptimWrapperConstructor' or not isinstance(
            paramwise, dict):
        return
    owner = 'DefaultOptimWrapperConstructor\'s paramwise_cfg'
    check_arguments(paramwise, 'optim_wrapper.paramwise_cfg', None, owner,
                    Arguments(PARAMWISE_KEYS, False), OPTIMIZERS)
    optimizer = wrapper['optimizer']
    kind = optimizer.get('type') if isinstance(optimizer, dict) else None
    found = arguments(OPTIMIZERS.get(kind)) if isinstance(kind, str) else None
    settings = Arguments(CUSTOM_KEY_SETTINGS, True) if found is None else \
        Arguments({**CUSTOM_KEY_SETTINGS, **found.params}, False)
    for name, custom in (paramwise.get('custom_keys') or {}).items():
        if isinstance(custom, dict):
            check_arguments(custom,
                            f'optim_wrapper.paramwise_cfg.custom_keys.{name}',
                            None, 'a custom_keys entry', settings, OPTIMIZERS)


def check_sections(cfg: Config) -> None:
    """Keys and value types of every section of ``cfg`` outside the model
    that is built from a registry, and of its dataloaders."""
    check_dataloaders(cfg)
    check_train_loop(cfg)
    check_optional_sections(cfg, 'val_cfg', LOOPS, 'ValLoop')
    check_optional_sections(cfg, 'test_cfg', LOOPS, 'TestLoop')
    check_optional_sections(cfg, 'param_scheduler', PARAM_SCHEDULERS,
                            extras=SCHEDULER_EXTRAS)
    check_default_hooks(cfg)
    check_optional_sections(cfg, 'custom_hooks', HOOKS, extras=HOOK_EXTRAS)
    check_optim_wrapper(cfg)
    for key in ('val_evaluator', 'test_evaluator'):
        check_optional_sections(cfg, key, METRICS)
    check_optional_sections(cfg, 'log_processor', LOG_PROCESSORS,
                            'LogProcessor')
    check_optional_sections(cfg, 'visualizer', VISUALIZERS)


def setting(section: dict, key: str, registry: Registry = MODELS) -> Any:
    """``section[key]``, else the default of ``section``'s type for ``key``;
    ``None`` where neither exists."""
    if key in section:
        return section[key]
    default = constructor_defaults(registry.get(section['type'])).get(key)
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


def check_widths(model: dict) -> None:
    """The heads that read the FPN levels take as many channels as the neck
    gives."""
    width = setting(model['neck'], 'out_channels')
    for path in FPN_READERS:
        section = model
        for name in path.split('.'):
            section = setting(section, name)
        channels = setting(section, 'in_channels')
        if None not in (width, channels) and channels != width:
            readers = ', '.join(f'model.{reader}' for reader in FPN_READERS)
            raise ConfigError(
                f'model.{path}.in_channels={channels} but the neck gives '
                f'{width} channels (model.neck.out_channels={width}); set '
                f'in_channels={width} in {readers}, or out_channels='
                f'{channels} in model.neck')


def check_inference_parts(model: dict) -> None:
    """Build the model's weightless parts with its settings (the target
    generator, kernel fusion and fusion head), so that their own range checks
    (thresholds in [0, 1], positive counts, ...) run before any work
    directory exists."""
    classes = {
        key: setting(model, key)
        for key in ('num_things_classes', 'num_stuff_classes')
    }
    test_cfg = model.get('test_cfg') or {}
    generator = model['kernel_generator']
    for path, registry, section in (
        ('model.kernel_generator.target_generator', TASK_UTILS,
         {**setting(generator, 'target_generator'), **classes}),
        ('model', MODELS,
         {**setting(generator, 'kernel_fusion'), 'test_cfg': test_cfg}),
        ('model', MODELS, {**setting(model, 'panoptic_fusion_head'),
                           **classes, 'test_cfg': test_cfg})):
        try:
            registry.build(section)
        except ValueError as error:
            raise ConfigError(f'{path}: {error}') from None


def check_panoptic_fcn(cfg: Config, cls: type, model: dict) -> None:
    """The checks of a Panoptic FCN model: its sections' arguments, its
    test_cfg, class counts, levels, widths and inference parts."""
    missing = [key for key in REQUIRED_SECTIONS if key not in model]
    if missing:
        raise ConfigError(f'model: {cls.__name__} needs the section(s) '
                          f'{missing}')
    check_section(model, 'model')
    test_cfg = model.get('test_cfg') or {}
    try:
        cls.check_test_cfg_keys(test_cfg)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    defaults = {
        key: inspect.Parameter(
            key, inspect.Parameter.KEYWORD_ONLY, default=value)
        for key, value in TEST_CFG_DEFAULTS.items()
    }
    check_arguments(test_cfg, 'model.test_cfg', None,
                    f'{cls.__name__}\'s test_cfg', Arguments(defaults, True),
                    MODELS)
    check_class_counts(cfg, model)
    check_levels(model)
    check_widths(model)
    check_inference_parts(model)


def validate_config(cfg: Union[Config, ConfigDict]) -> None:
    """Check a config of MMDetection's scope (see the module docstring);
    configs of other scopes build from other registries and pass.

    Raises:
        ConfigError: For the first problem found.
    """
    if cfg.get('default_scope', 'mmdet') != 'mmdet':
        return
    model = cfg.get('model')
    kind = model.get('type') if isinstance(model, dict) else None
    cls = MODELS.get(kind) if isinstance(kind, str) else kind
    if inspect.isclass(cls) and issubclass(cls, PanopticFCN):
        check_panoptic_fcn(cfg, cls, model)
    check_sections(cfg)
