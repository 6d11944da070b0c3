"""ThingCropDataset and RandomSquareCrop: one crop per thing of a generated
panoptic split, cut where the JSON's box says and labelled by the thing's
category, and the random square windows the pretraining trains on."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from mmengine.registry import init_default_scope

from mmpfcn.datasets import BadDataError
from projects.synthetic.synthetic_panoptic import (RandomSquareCrop, ThingCropDataset,
                                                   generate_synthetic_panoptic)
from projects.synthetic.synthetic_panoptic.thing_crop_dataset import (cut_crops,
                                                                      square_crop_boxes)


@pytest.fixture(scope='module')
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('thing_crops') / 'synthetic'
    generate_synthetic_panoptic(str(root), num_train=6, num_val=2, size=96, seed=3)
    return root


def build(root: Path, **kwargs) -> ThingCropDataset:
    return ThingCropDataset(
        data_root=str(root), ann_file='annotations/panoptic_train.json',
        data_prefix=dict(img='train/'), **kwargs)


def test_square_crop_boxes_are_centred_squares():
    squares = square_crop_boxes(np.array([[10., 20., 8., 4.], [0., 0., 2., 6.]]), 1.5)
    np.testing.assert_allclose(squares, [[8., 16., 20., 28.], [-3.5, -1.5, 5.5, 7.5]])


def test_cut_crops_resamples_each_square_and_pads_with_zeros():
    image = np.zeros((40, 40, 3), np.uint8)
    image[8:24, 8:24] = (10, 200, 90)
    crops = cut_crops(image, np.array([[8., 8., 24., 24.], [-20., -20., 0., 0.]]), 8)
    assert crops.shape == (2, 8, 8, 3) and crops.dtype == np.uint8
    # A square inside a plain block resamples to the block's colour; one off the image to zeros.
    assert (crops[0] == (10, 200, 90)).all()
    assert (crops[1] == 0).all()


def test_one_crop_per_thing_with_its_label(data_root):
    coco = json.loads((data_root / 'annotations' / 'panoptic_train.json').read_text())
    things = [c['id'] for c in coco['categories'] if c['isthing']]
    files = {image['id']: image['file_name'] for image in coco['images']}
    expected = [(s['id'], things.index(s['category_id']), files[a['image_id']], s['bbox'])
                for a in coco['annotations'] for s in a['segments_info']
                if s['category_id'] in things]
    dataset = build(data_root, crop_size=32, context=2.0)
    assert len(dataset) == len(expected) > 0
    assert dataset.metainfo['classes'] == tuple(
        c['name'] for c in coco['categories'] if c['isthing'])
    for idx, (segment_id, label, file_name, bbox) in enumerate(expected):
        info = dataset.get_data_info(idx)
        assert info['segment_id'] == segment_id
        assert info['gt_bboxes_labels'].tolist() == [label]
        assert info['img_path'].endswith(file_name)
        # The crop is the thing's square cut out of its image.
        image = np.asarray(Image.open(info['img_path']).convert('RGB'))[..., ::-1].copy()
        square = square_crop_boxes(np.array([bbox], np.float64), 2.0)
        np.testing.assert_array_equal(info['img'], cut_crops(image, square, 32)[0])


def test_samples_run_through_the_pretraining_pipeline(data_root):
    init_default_scope('mmdet')
    dataset = build(data_root, crop_size=40, pipeline=[
        dict(type='RandomSquareCrop', min_ratio=0.7),
        dict(type='Resize', scale=(32, 32), keep_ratio=False),
        dict(type='PackDetInputs')])
    sample = dataset[0]
    assert tuple(sample['inputs'].shape) == (3, 32, 32)
    assert sample['data_samples'].gt_instances.labels.tolist() == \
        dataset.get_data_info(0)['gt_bboxes_labels'].tolist()


def test_an_unreadable_image_is_named(data_root, tmp_path):
    coco = json.loads((data_root / 'annotations' / 'panoptic_train.json').read_text())
    image_name = coco['images'][1]['file_name']
    (tmp_path / 'annotations').mkdir()
    (tmp_path / 'annotations' / 'panoptic_train.json').write_text(json.dumps(coco))
    (tmp_path / 'train').mkdir()
    for image in coco['images']:
        (tmp_path / 'train' / image['file_name']).write_bytes(
            (data_root / 'train' / image['file_name']).read_bytes())
    (tmp_path / 'train' / image_name).write_bytes(b'not a png')
    with pytest.raises(BadDataError, match=f'Cannot decode image .*{image_name}'):
        build(tmp_path)
    # An image of another size than its entry says is named too.
    (tmp_path / 'train' / image_name).write_bytes(
        (data_root / 'train' / image_name).read_bytes())
    coco['images'][1]['height'] += 1
    (tmp_path / 'annotations' / 'panoptic_train.json').write_text(json.dumps(coco))
    with pytest.raises(BadDataError, match=f'{image_name} is 96x96 .* says 96x97'):
        build(tmp_path)


@pytest.mark.parametrize('damage, message', [
    (lambda coco: coco['images'].pop(0), 'has no entry in "images"'),
    (lambda coco: coco['annotations'][0]['segments_info'][0].pop('bbox'), "missing key 'bbox'"),
])
def test_a_broken_annotation_file_is_named(data_root, tmp_path, damage, message):
    coco = json.loads((data_root / 'annotations' / 'panoptic_train.json').read_text())
    for segment in coco['annotations'][0]['segments_info']:
        segment['category_id'] = coco['categories'][0]['id']  # a thing
    damage(coco)
    ann_file = tmp_path / 'broken.json'
    ann_file.write_text(json.dumps(coco))
    with pytest.raises(BadDataError, match=f'broken.json.*{message}'):
        ThingCropDataset(ann_file=str(ann_file), data_prefix=dict(img=str(data_root / 'train')))
    ann_file.write_text('{"images": [')
    with pytest.raises(BadDataError, match='broken.json: cannot read it'):
        ThingCropDataset(ann_file=str(ann_file), data_prefix=dict(img=str(data_root / 'train')))


def test_a_split_without_things_is_an_error(data_root, tmp_path):
    coco = json.loads((data_root / 'annotations' / 'panoptic_train.json').read_text())
    for category in coco['categories']:
        category['isthing'] = 0
    ann_file = tmp_path / 'no_things.json'
    ann_file.write_text(json.dumps(coco))
    with pytest.raises(BadDataError, match='no_things.json'):
        ThingCropDataset(ann_file=str(ann_file), data_prefix=dict(img=str(data_root / 'train')))


def test_random_square_crop_cuts_squares_of_the_allowed_sides():
    np.random.seed(0)
    crop = RandomSquareCrop(min_ratio=0.5)
    image = np.arange(20 * 20 * 3).reshape(20, 20, 3)
    sides = set()
    for _ in range(50):
        results = crop(dict(img=image))
        window = results['img']
        side = window.shape[0]
        sides.add(side)
        assert window.shape[:2] == (side, side) == results['img_shape'] and 10 <= side <= 20
        # The window's top-left pixel tells where it was cut: it is that part of the image.
        top, left = divmod(int(window[0, 0, 0]) // 3, 20)
        np.testing.assert_array_equal(window, image[top:top + side, left:left + side])
    assert len(sides) > 3
    with pytest.raises(ValueError, match='min_ratio'):
        RandomSquareCrop(min_ratio=0)
