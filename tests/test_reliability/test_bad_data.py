"""Issue 7.3: bad data gets a clear error naming the file or annotation, when
the dataset is loaded or, for image content, when the sample is read; odd
image formats are converted; ``skip_bad_samples`` lets training go on."""
import json
import os
import os.path as osp
import re
from typing import Callable

import cv2
import numpy as np
import pytest
from mmdet.registry import DATASETS
from PIL import Image

from mmpfcn.datasets import BadDataError

from .conftest import CONFIG, run_tool, tiny_config

TRAIN_JSON = 'annotations/panoptic_train.json'


def edit_json(root: str, change: Callable[[dict], None]) -> str:
    """Apply ``change`` to the train annotation file; return its path."""
    path = osp.join(root, TRAIN_JSON)
    with open(path) as f:
        data = json.load(f)
    change(data)
    with open(path, 'w') as f:
        json.dump(data, f)
    return path


def build_train_set(root: str, monkeypatch, **changes):
    """The tiny config's training dataset on ``root``."""
    cfg = tiny_config(root, monkeypatch).train_dataloader.dataset
    cfg.update(changes)
    return DATASETS.build(cfg)


def load_error(root: str, monkeypatch, **changes) -> str:
    """The message of the error building the training dataset raises."""
    with pytest.raises(BadDataError) as error:
        build_train_set(root, monkeypatch, **changes)
    return str(error.value)


def read_error(root: str, monkeypatch, index: int) -> str:
    """The message of the error reading sample ``index`` raises; the dataset
    loads and the samples before it read fine."""
    dataset = build_train_set(root, monkeypatch)
    for good in range(index):
        dataset[good]
    with pytest.raises(BadDataError) as error:
        dataset[index]
    return str(error.value)


def image_path(root: str, index: int) -> str:
    return osp.join(root, 'train', f'{index:06d}.png')


def png_path(root: str, index: int) -> str:
    return osp.join(root, 'annotations', 'panoptic_train', f'{index:06d}.png')


@pytest.mark.parametrize('content', ['truncated', 'not_an_image'])
def test_unreadable_image_fails_when_read(synthetic_root, monkeypatch,
                                          content):
    path = image_path(synthetic_root, 2)
    data = open(path, 'rb').read()
    data = data[:len(data) // 2] if content == 'truncated' else b'not a png'
    with open(path, 'wb') as f:
        f.write(data)
    assert read_error(synthetic_root, monkeypatch, 1) == (
        f'Cannot decode image {path} ({len(data)} bytes): the file is '
        'truncated, corrupt or not an image')


def test_missing_panoptic_png_fails_at_load(synthetic_root, monkeypatch):
    path = png_path(synthetic_root, 3)
    os.remove(path)
    ann_file = osp.join(synthetic_root, TRAIN_JSON)
    assert load_error(synthetic_root, monkeypatch) == (
        f'{ann_file}: image id 3 (file_name "000003.png"): panoptic PNG '
        f'{path} is missing')


def test_json_segment_absent_from_png_fails_when_read(synthetic_root,
                                                      monkeypatch):

    def add_segment(data):
        data['annotations'][0]['segments_info'].append(
            dict(id=999, category_id=1, area=10, bbox=[0, 0, 5, 2],
                 iscrowd=0))

    edit_json(synthetic_root, add_segment)
    assert read_error(synthetic_root, monkeypatch, 0) == (
        f'Panoptic PNG {png_path(synthetic_root, 1)} has no pixel of '
        'segment(s) [999] that the annotation JSON lists for image id 1')


def test_png_segment_absent_from_json_fails_when_read(synthetic_root,
                                                      monkeypatch):
    removed = []

    def drop_segment(data):
        removed.append(data['annotations'][1]['segments_info'].pop()['id'])

    edit_json(synthetic_root, drop_segment)
    assert read_error(synthetic_root, monkeypatch, 1) == (
        f'Panoptic PNG {png_path(synthetic_root, 2)} has pixels of segment '
        f'id(s) {removed} that the annotation JSON does not list for image '
        'id 2')


def test_unknown_category_fails_at_load(synthetic_root, monkeypatch):
    segment = {}

    def unknown_category(data):
        segment.update(data['annotations'][2]['segments_info'][0])
        data['annotations'][2]['segments_info'][0]['category_id'] = 99

    ann_file = edit_json(synthetic_root, unknown_category)
    assert load_error(synthetic_root, monkeypatch) == (
        f'{ann_file}: image id 3 (file_name "000003.png"): segment '
        f'{segment["id"]} has category_id 99, which is not one of the '
        "dataset's categories [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]")


def test_class_missing_from_json_fails_at_load(synthetic_root, monkeypatch):

    def rename(data):
        data['categories'][3]['name'] = 'hexagon'

    ann_file = edit_json(synthetic_root, rename)
    assert load_error(synthetic_root, monkeypatch) == (
        f"{ann_file} defines no category named ['star'], but the dataset's "
        'metainfo classes list them')


def test_image_size_differing_from_json_fails_when_read(
        synthetic_root, monkeypatch):
    path = image_path(synthetic_root, 1)
    Image.open(path).resize((60, 64)).save(path)
    assert read_error(synthetic_root, monkeypatch, 0) == (
        f'Image {path} is 60x64 (width x height) but its annotation (image '
        'id 1) says 64x64')


@pytest.mark.parametrize('file_name', ['../../secret.png', '/etc/passwd',
                                       'train/../../x.png'])
def test_file_name_escaping_the_data_root_fails_at_load(
        synthetic_root, monkeypatch, file_name):

    def escape(data):
        data['images'][1]['file_name'] = file_name

    ann_file = edit_json(synthetic_root, escape)
    assert load_error(synthetic_root, monkeypatch) == (
        f'{ann_file}: image id 2 (file_name "{file_name}"): the file name '
        f'escapes the data root {osp.join(synthetic_root, "train/")}')


def test_empty_dataset_fails_at_load(synthetic_root, monkeypatch):

    def empty(data):
        data['images'], data['annotations'] = [], []

    ann_file = edit_json(synthetic_root, empty)
    assert load_error(synthetic_root, monkeypatch) == (
        f'{ann_file} lists no images: the dataset is empty')


def test_dataset_filtered_to_nothing_fails_at_load(synthetic_root,
                                                   monkeypatch):
    assert load_error(
        synthetic_root, monkeypatch, filter_cfg=dict(min_size=100)) == (
        f'{osp.join(synthetic_root, TRAIN_JSON)}: no image is left after '
        "filter_cfg={'min_size': 100}: the dataset is empty")


def convert_images(root: str) -> np.ndarray:
    """Store images 1-3 as grayscale, RGBA and 16-bit RGB PNGs; return the
    original 8-bit BGR images."""
    originals = np.stack([cv2.imread(image_path(root, i)) for i in (1, 2, 3)])
    rgb = originals[..., ::-1]
    Image.fromarray(rgb[0]).convert('L').save(image_path(root, 1))
    Image.fromarray(np.dstack([rgb[1], np.full((64, 64), 128, np.uint8)
                               ])).save(image_path(root, 2))
    cv2.imwrite(image_path(root, 3), originals[2].astype(np.uint16) * 257)
    return originals


def test_grayscale_rgba_16bit_images_are_converted(synthetic_root,
                                                   monkeypatch):
    originals = convert_images(synthetic_root)
    assert Image.open(image_path(synthetic_root, 1)).mode == 'L'
    assert Image.open(image_path(synthetic_root, 2)).mode == 'RGBA'
    assert cv2.imread(image_path(synthetic_root, 3),
                      cv2.IMREAD_UNCHANGED).dtype == np.uint16
    dataset = build_train_set(synthetic_root, monkeypatch, pipeline=[
        dict(type='LoadCheckedImageFromFile'),
        dict(type='LoadCheckedPanopticAnnotations')
    ])
    images = [dataset[i]['img'] for i in range(3)]
    assert all(img.shape == (64, 64, 3) and img.dtype == np.uint8
               for img in images)
    gray = np.asarray(Image.open(image_path(synthetic_root, 1)))
    assert (images[0] == gray[..., None]).all()
    assert (images[1] == originals[1]).all()
    assert (images[2] == originals[2]).all()


def test_training_skips_bad_samples_on_request(synthetic_root, tmp_path):
    """A real training run over odd-format images and a truncated one: it
    stops on the truncated image by default, and with ``skip_bad_samples``
    trains on, warning per skip and reporting the count at the end."""
    convert_images(synthetic_root)
    bad = image_path(synthetic_root, 4)
    data = open(bad, 'rb').read()
    with open(bad, 'wb') as f:
        f.write(data[:100])
    common = ('--cfg-options', 'train_cfg.max_iters=6', 'val_cfg=None',
              'val_dataloader=None', 'val_evaluator=None',
              'default_hooks.checkpoint.interval=6')
    stopped = run_tool('train.py', CONFIG, '--work-dir',
                       str(tmp_path / 'strict'), *common,
                       data_root=synthetic_root, cwd=str(tmp_path))
    assert stopped.returncode != 0
    message = (f'Cannot decode image {bad} (100 bytes): the file is '
               'truncated, corrupt or not an image')
    assert f'BadDataError: {message}' in stopped.stderr

    skipping = run_tool('train.py', CONFIG, '--work-dir',
                        str(tmp_path / 'skip'), *common,
                        'train_dataloader.dataset.skip_bad_samples=True',
                        data_root=synthetic_root, cwd=str(tmp_path))
    assert skipping.returncode == 0, skipping.stderr[-3000:]
    log = skipping.stdout + skipping.stderr
    warnings = re.findall(
        r'WARNING - Skipping bad sample (\d+) \(index 3\): (.*)', log)
    assert [int(number) for number, _ in warnings] == list(
        range(1, len(warnings) + 1))
    assert warnings and {text for _, text in warnings} == {message}
    assert (f'WARNING - Skipped {len(warnings)} bad training sample(s) '
            '(skip_bad_samples=True); the warnings above name them.') in log
    assert osp.isfile(str(tmp_path / 'skip' / 'iter_6.pth'))
