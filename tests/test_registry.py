"""Registration: a config's ``custom_imports`` loads plug-in modules into
MMDetection's registries, and ``import mmpfcn`` keeps everything resolvable
under ``default_scope='mmdet'``."""
import os.path as osp
from typing import Iterator

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import Registry, init_default_scope
from mmengine.utils import import_modules_from_strings

DATA_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'data')


def write_config(tmp_path, plugin: str) -> str:
    """A config file that only imports ``plugin`` and names its model."""
    path = tmp_path / 'plugin_config.py'
    path.write_text(f'custom_imports = dict(imports=[{plugin!r}], '
                    'allow_failed_imports=False)\n'
                    "model = dict(type='RegistryProbe', scale=3.0)\n")
    return str(path)


def test_custom_imports_register_plugin_model(tmp_path, monkeypatch):
    from mmdet.registry import MODELS

    monkeypatch.syspath_prepend(DATA_DIR)
    init_default_scope('mmdet')
    assert MODELS.get('RegistryProbe') is None

    cfg = Config.fromfile(write_config(tmp_path, 'registry_plugin'))
    import_modules_from_strings(**cfg.custom_imports)
    model = MODELS.build(cfg.model)

    assert type(model).__module__ == 'registry_plugin'
    assert type(model).__name__ == 'RegistryProbe'
    assert torch.equal(model(torch.ones(2)), torch.full((2, ), 3.0))


def test_custom_imports_fail_loudly_on_missing_module(tmp_path):
    with pytest.raises(ImportError, match='no_such_registry_plugin'):
        Config.fromfile(write_config(tmp_path, 'no_such_registry_plugin'))


def walk_registries(registry: Registry) -> Iterator[Registry]:
    yield registry
    for child in registry.children.values():
        yield from walk_registries(child)


def test_import_mmpfcn_keeps_mmdet_registries_resolvable():
    import mmdet.registry
    import mmengine.registry
    from mmdet.datasets import CocoPanopticDataset

    import mmpfcn  # noqa: F401

    init_default_scope('mmdet')
    assert mmdet.registry.DATASETS.get(
        'CocoPanopticDataset') is CocoPanopticDataset
    assert mmdet.registry.MODELS.get('PanopticFPN') is not None

    # Whatever mmpfcn registers must be found by name from MMDetection's
    # registry of the same kind, i.e. under default_scope='mmdet'.
    roots = {
        name: value
        for name, value in vars(mmengine.registry).items()
        if isinstance(value, Registry)
    }
    for name, root in roots.items():
        mmdet_registry = getattr(mmdet.registry, name, root)
        for registry in walk_registries(root):
            # A snapshot: get() may import (and register) more modules.
            for key, cls in list(registry.module_dict.items()):
                if cls.__module__.startswith('mmpfcn'):
                    assert mmdet_registry.get(key) is cls, (
                        f'{cls.__module__}.{cls.__qualname__} is registered '
                        f'in scope {registry.scope!r}, out of reach of '
                        "default_scope='mmdet'")
