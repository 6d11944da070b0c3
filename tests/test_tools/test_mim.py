"""OpenMMLab's ``mim`` drives mmpfcn through the ``.mim`` extension: the real
``mim`` command trains, tests and searches the model index."""
import glob
import importlib.metadata
import json
import os
import os.path as osp
import pickle
import subprocess
import sys
from typing import List

import yaml
from mmengine.infer import BaseInferencer

import mmpfcn

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATA_DIR = osp.join(REPO_ROOT, 'tests', 'data')
CONFIG = osp.join(DATA_DIR, 'configs', 'tiny_regression.py')
MIM = osp.join(osp.dirname(sys.executable), 'mim')


def run_mim(*args: str, cwd: str) -> subprocess.CompletedProcess:
    """Run ``mim`` with tests/data importable (for the tiny config)."""
    python_path = [DATA_DIR] + [
        path
        for path in os.environ.get('PYTHONPATH', '').split(os.pathsep) if path
    ]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(python_path))
    result = subprocess.run([MIM, *args],
                            cwd=cwd,
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=300)
    assert result.returncode == 0, (
        f'mim {" ".join(args)} failed:\n{result.stdout}\n{result.stderr}')
    return result


def model_index_names() -> List[str]:
    """Model names in model-index.yml and the metafiles it imports."""
    with open(osp.join(REPO_ROOT, 'model-index.yml')) as f:
        index = yaml.safe_load(f)
    names = []
    for metafile in index['Import']:
        with open(osp.join(REPO_ROOT, metafile)) as f:
            names += [model['Name'] for model in yaml.safe_load(f)['Models']]
    return names


def test_mim_extension_links_repo_files():
    mim_dir = osp.join(osp.dirname(mmpfcn.__file__), '.mim')
    for name in ('tools', 'configs', 'model-index.yml'):
        path = osp.join(mim_dir, name)
        assert osp.islink(path), f'{path} is not a symlink'
        assert osp.realpath(path) == osp.join(REPO_ROOT, name)
    assert importlib.metadata.version('mmpfcn') == mmpfcn.__version__


def test_mim_train_then_test(tmp_path):
    work_dir = tmp_path / 'train'
    run_mim(
        'train',
        'mmpfcn',
        CONFIG,
        '--work-dir',
        str(work_dir),
        cwd=str(tmp_path))
    checkpoint = work_dir / 'iter_4.pth'
    assert checkpoint.is_file()
    assert (work_dir / 'last_checkpoint').read_text() == str(checkpoint)

    test_dir = tmp_path / 'test'
    predictions = test_dir / 'predictions.pkl'
    run_mim(
        'test',
        'mmpfcn',
        CONFIG,
        '--checkpoint',
        str(checkpoint),
        '--work-dir',
        str(test_dir),
        '--out',
        str(predictions),
        cwd=str(tmp_path))
    [metrics_file] = glob.glob(str(test_dir / '*' / '*.json'))
    with open(metrics_file) as f:
        assert json.load(f)['tiny/mse'] >= 0
    with open(predictions, 'rb') as f:
        assert len(pickle.load(f)) == 8


def test_mim_search_lists_model_index(tmp_path):
    names = model_index_names()
    assert names

    result = run_mim('search', 'mmpfcn', cwd=str(tmp_path))

    for name in names:
        assert f'config id: {name}\n' in result.stdout


def test_metafile_aliases_keep_the_old_names_in_the_mim_directory():
    """MMEngine's inferencer matches a model name against the ``Name`` and
    ``Alias`` of the metafiles in the package's ``.mim`` directory: the names
    the models had before MMDetection's naming scheme still lead to their
    renamed config."""
    mim_dir = osp.join(osp.dirname(mmpfcn.__file__), '.mim')
    config_of = {}
    for model in BaseInferencer._get_models_from_metafile(mim_dir):
        # Every COCO model was renamed; the other datasets' came with their names.
        assert model['Alias'] or not model['Name'].endswith('_coco'), model['Name']
        for name in [model['Name']] + model['Alias']:
            config_of[name] = model['Config']
            assert osp.isfile(osp.join(mim_dir, model['Config'])), name
    assert config_of['panoptic-fcn_r50_fpn_400-3x_coco'] == (
        'configs/panoptic_fcn/panoptic-fcn-400_r50_fpn_8xb2-ms-3x_coco.py')
