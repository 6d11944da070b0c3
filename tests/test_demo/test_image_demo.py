"""demo/image_demo.py as a user runs it, on scikit-image's sample photographs at their
original sizes: every output file decodes and each JSON agrees with its PNG."""
import importlib.util
import json
import os.path as osp
import re
import shutil
import subprocess
import sys
from pathlib import Path

import mmcv
import numpy as np
import pytest
import skimage
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from panopticapi.utils import rgb2id

import mmpfcn  # noqa: F401  (registers the model)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'demo', 'image_demo.py')
SYNTHETIC_CONFIG = osp.join(ROOT, 'projects', 'synthetic', 'configs',
                            'panoptic-fcn_r18_fpn_synthetic.py')
NUM_THINGS = 6
# Category ids that are not label + 1, so that the mapping shows in the JSON.
CATEGORY_IDS = [10 * (label + 1) for label in range(10)]
# At random weights these thresholds leave several things, stuff and void in each photograph.
LOW_THRESHOLDS = dict(thing_score_thr=0.0, stuff_score_thr=0.0, instance_score_thr=0.0,
                      panoptic_instance_score_thr=0.0, stuff_area_limit=1, mask_thr=0.55)


def photo(name: str) -> str:
    """A photograph shipped with scikit-image (no download)."""
    return osp.join(skimage.data_dir, name)


@pytest.fixture(scope='module')
def model_files(tmp_path_factory):
    """The synthetic config with low thresholds, and random weights whose checkpoint
    records the dataset's classes and category ids."""
    folder = tmp_path_factory.mktemp('model')
    config = folder / 'config.py'
    config.write_text(f'_base_ = [{SYNTHETIC_CONFIG!r}]\n'
                      f'model = dict(test_cfg={LOW_THRESHOLDS!r})\n')
    cfg = Config.fromfile(str(config))
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    dataset_meta = dict(classes=list(cfg.metainfo['classes']), category_ids=CATEGORY_IDS)
    weights = folder / 'weights.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dataset_meta)), weights)
    return [str(config), '--weights', str(weights)]


@pytest.fixture(scope='module')
def demo_main():
    """The demo's ``main``, for runs inside the test process."""
    spec = importlib.util.spec_from_file_location('image_demo', DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def run_demo(*args: str) -> str:
    """Run the demo as a user does; return its stdout."""
    done = subprocess.run([sys.executable, DEMO, *args, '--device', 'cpu'], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def check_outputs(out_dir, images: dict, with_vis: bool = True) -> list:
    """Check the files of ``images`` (output name -> (file name, height, width));
    return all their segments."""
    found = []
    for name, (file_name, height, width) in images.items():
        if with_vis:
            assert mmcv.imread(str(out_dir / 'vis' / file_name)).shape == (height, width, 3)
        ids = rgb2id(mmcv.imread(str(out_dir / 'panoptic' / f'{name}.png'), channel_order='rgb'))
        assert ids.shape == (height, width)
        annotation = json.loads((out_dir / 'panoptic' / f'{name}.json').read_text())
        assert annotation['file_name'] == f'{name}.png'
        segments = annotation['segments_info']
        assert sorted(segment['id'] for segment in segments) == sorted(set(np.unique(ids)) - {0})
        for segment in segments:
            ys, xs = np.nonzero(ids == segment['id'])
            assert segment['area'] == len(ys)
            x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
            assert segment['bbox'] == [x0, y0, x1 - x0 + 1, y1 - y0 + 1]
            categories = CATEGORY_IDS[:NUM_THINGS] if segment['isthing'] else \
                CATEGORY_IDS[NUM_THINGS:]
            assert segment['category_id'] in categories
            assert segment['iscrowd'] == 0 and 0 <= segment['score'] <= 1
        found += segments
    assert {segment['isthing'] for segment in found} == {True, False}
    return found


def test_demo_on_a_photograph(model_files, tmp_path):
    stdout = run_demo(photo('astronaut.png'), *model_files, '--out-dir', str(tmp_path))
    assert f'results have been saved at {tmp_path}' in stdout
    check_outputs(tmp_path, {'astronaut': ('astronaut.png', 512, 512)})


def test_demo_on_a_folder_in_batches(model_files, tmp_path):
    folder = tmp_path / 'photos'
    folder.mkdir()
    for name in ('coffee.png', 'rocket.jpg'):
        shutil.copy(photo(name), folder)
    run_demo(str(folder), *model_files, '--out-dir', str(tmp_path / 'out'), '--batch-size', '2')
    check_outputs(tmp_path / 'out', {'coffee': ('coffee.png', 400, 600),
                                     'rocket': ('rocket.jpg', 427, 640)})


def test_demo_on_a_url(demo_main, model_files, loopback_server, tmp_path):
    url = loopback_server.add('/photos/chelsea.png', Path(photo('chelsea.png')).read_bytes(),
                              'image/png')
    demo_main([url, *model_files, '--out-dir', str(tmp_path), '--device', 'cpu', '--no-save-vis'])
    assert not (tmp_path / 'vis').exists()
    check_outputs(tmp_path, {'chelsea': ('chelsea.png', 300, 451)}, with_vis=False)


@pytest.mark.parametrize('inputs, message', [
    ('{tmp}/nowhere.jpg', '{tmp}/nowhere.jpg: no such file or folder'),
    ('{web}/index.html', '{web}/index.html: not an image (got 29 bytes of text/html)'),
    ('{web}/photos/gone.png', '{web}/photos/gone.png: download failed (HTTP Error 404'),
], ids=['missing-path', 'html-url', 'missing-url'])
def test_bad_input_is_named(demo_main, model_files, loopback_server, tmp_path, capsys, inputs,
                            message):
    loopback_server.add('/index.html', b'<!DOCTYPE html><p>Sign in</p>', 'text/html')
    names = dict(tmp=tmp_path, web=loopback_server.base)
    with pytest.raises(SystemExit) as exit_info:
        demo_main([inputs.format(**names), *model_files, '--out-dir', str(tmp_path / 'out')])
    assert exit_info.value.code == 2
    assert re.search(re.escape(message.format(**names)), capsys.readouterr().err)
    assert not (tmp_path / 'out').exists()
