#!/usr/bin/env python
"""Packaging for mmpfcn, with the ``.mim`` extension that OpenMMLab's ``mim``
uses to find a package's configs, tools and model index."""
import os
import os.path as osp
import platform
import shutil
import sys
from typing import List

from setuptools import find_packages, setup

ROOT = osp.dirname(osp.abspath(__file__))
MIM_FILES = ('tools', 'configs', 'demo', 'model-index.yml')


def get_version() -> str:
    """Read ``__version__`` from mmpfcn/version.py without importing mmpfcn
    (importing it needs torch, which an isolated build env lacks)."""
    scope: dict = {}
    with open(osp.join(ROOT, 'mmpfcn', 'version.py'), encoding='utf-8') as f:
        exec(compile(f.read(), 'mmpfcn/version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(fname: str) -> List[str]:
    """Requirement lines of ``fname``, without comments and blank lines."""
    with open(osp.join(ROOT, fname), encoding='utf-8') as f:
        lines = (line.split('#', 1)[0].strip() for line in f)
        return [line for line in lines if line]


def readme() -> str:
    path = osp.join(ROOT, 'README.md')
    if not osp.exists(path):
        return ''
    with open(path, encoding='utf-8') as f:
        return f.read()


def add_mim_extension() -> None:
    """Expose tools, configs, demo and model-index.yml as ``mmpfcn/.mim``.

    An editable install links them, so edits in the repo are seen by ``mim``
    at once; building a wheel or sdist copies them into the package. Legacy
    ``setup.py develop`` and PEP 660 ``editable_wheel`` both count as
    editable. Other setup commands (egg_info, dist_info, ...) leave
    ``.mim`` alone.
    """
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
        mode = 'copy' if platform.system() == 'Windows' else 'symlink'
    elif 'sdist' in sys.argv or 'bdist_wheel' in sys.argv:
        mode = 'copy'
    else:
        return

    mim_path = osp.join(ROOT, 'mmpfcn', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in MIM_FILES:
        src_path = osp.join(ROOT, name)
        if not osp.exists(src_path):
            continue
        tar_path = osp.join(mim_path, name)
        if osp.islink(tar_path) or osp.isfile(tar_path):
            os.remove(tar_path)
        elif osp.isdir(tar_path):
            shutil.rmtree(tar_path)

        if mode == 'symlink':
            os.symlink(osp.relpath(src_path, mim_path), tar_path)
        elif osp.isdir(src_path):
            shutil.copytree(src_path, tar_path)
        else:
            shutil.copyfile(src_path, tar_path)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mmpfcn',
        version=get_version(),
        description='Panoptic FCN as an MMDetection 3.x extension',
        long_description=readme(),
        long_description_content_type='text/markdown',
        keywords='computer vision, panoptic segmentation, mmdetection',
        packages=find_packages(include=('mmpfcn', 'mmpfcn.*')),
        package_data={
            'mmpfcn': [
                '.mim/model-index.yml',
                '.mim/configs/**/*.py',
                '.mim/configs/**/*.yml',
                '.mim/tools/**/*.py',
                '.mim/tools/**/*.sh',
                '.mim/demo/**/*',
            ]
        },
        python_requires='>=3.10',
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'mim': parse_requirements('requirements/mim.txt'),
            'deploy': parse_requirements('requirements/deploy.txt'),
            'tests': parse_requirements('requirements/tests.txt'),
        },
        zip_safe=False)
