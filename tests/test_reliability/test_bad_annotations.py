"""Issue 29: an annotation file that is not valid COCO panoptic gets a clear
error naming the file and the image, annotation, segment or category at fault
when the dataset is built, before MMDetection or pycocotools read it; an
empty image or PNG is named when read; ``tools/misc/check_dataset.py`` lists
every problem of a config's data."""
import importlib.util
import json
import os
import os.path as osp
from typing import Callable

import numpy as np
import pytest
from mmdet.registry import DATASETS
from PIL import Image

from mmpfcn.datasets.panoptic_annotation_rules import MAX_LISTED_PROBLEMS

from .conftest import CONFIG, REPO_ROOT, run_tool, tiny_config
from .test_bad_data import (TRAIN_JSON, build_train_set, edit_json,
                            image_path, load_error, png_path, read_error)

NEEDS = {
    'segment': '"id", "category_id", "area" and "bbox"',
    'annotation': '"image_id", "file_name" and "segments_info"',
    'image': '"id", "file_name", "height" and "width"',
    'category': '"id", "name" and "isthing"',
}
TOP_LEVEL = ('a COCO panoptic file lists "images", "annotations" (one per '
             'image, naming its panoptic PNG and listing its segments) and '
             '"categories"')
IMAGE_1 = 'image id 1 (file_name "000001.png")'


def first_segment(data: dict) -> dict:
    return data['annotations'][0]['segments_info'][0]


def first_segment_id(root: str) -> int:
    """The id of image 1's first segment in the train JSON."""
    with open(osp.join(root, TRAIN_JSON)) as f:
        return first_segment(json.load(f))['id']


def drop(key: str) -> Callable[[dict], None]:
    """A change removing ``key`` from the first segment."""
    return lambda data: first_segment(data).pop(key)


def set_first_segment(key: str, value) -> Callable[[dict], None]:
    return lambda data: first_segment(data).update({key: value})


def set_image(index: int, key: str, value) -> Callable[[dict], None]:
    return lambda data: data['images'][index].update({key: value})


# (case, change of the train JSON, message with {ann} the file and {seg} the
# id of image 1's first segment).
JSON_CASES = [
    ('segment_without_category_id', drop('category_id'),
     f'{{ann}}: {IMAGE_1}: segment {{seg}} has no "category_id": give it '
     f'{NEEDS["segment"]}'),
    ('segment_without_bbox', drop('bbox'),
     f'{{ann}}: {IMAGE_1}: segment {{seg}} has no "bbox": give it '
     f'{NEEDS["segment"]}'),
    ('annotation_without_segments_info',
     lambda data: data['annotations'][1].pop('segments_info'),
     '{ann}: the annotation of image id 2 (file_name "000002.png") has no '
     f'"segments_info": give it {NEEDS["annotation"]}'),
    ('file_without_categories', lambda data: data.pop('categories'),
     f'{{ann}} has no "categories" list: {TOP_LEVEL}'),
    ('image_without_height', lambda data: data['images'][2].pop('height'),
     '{ann}: image id 3 (file_name "000003.png") has no "height": give it '
     f'{NEEDS["image"]}'),
    ('category_without_isthing',
     lambda data: data['categories'][0].pop('isthing'),
     f'{{ann}}: category id 1 has no "isthing": give it {NEEDS["category"]}'),
    ('duplicate_image_ids', set_image(1, 'id', 1),
     '2 problems:\n'
     '{ann}: image id 1 is listed 2 times in "images" ("000001.png", '
     '"000002.png"): give each image its own id\n'
     '{ann}: the annotation of image id 2 (file_name "000002.png") is for an '
     'image "images" does not list: add the image to "images", or remove '
     'the annotation'),
    ('annotation_of_an_unlisted_image',
     lambda data: data['annotations'][1].update(image_id=77),
     '2 problems:\n'
     '{ann}: the annotation of image id 77 (file_name "000002.png") is for '
     'an image "images" does not list: add the image to "images", or remove '
     'the annotation\n'
     '{ann}: image id 2 (file_name "000002.png") has no annotation: add one '
     'naming its panoptic PNG and listing its segments, or remove the image'),
    ('image_without_annotation', lambda data: data['annotations'].pop(2),
     '{ann}: image id 3 (file_name "000003.png") has no annotation: add one '
     'naming its panoptic PNG and listing its segments, or remove the image'),
    ('segment_of_zero_area', set_first_segment('area', 0),
     f'{{ann}}: {IMAGE_1}: segment {{seg}} has area 0, not its number of '
     'pixels, at least 1; a segment without pixels has no place in the '
     'annotation'),
    ('file_without_annotations', lambda data: data.pop('annotations'),
     f'{{ann}} has no "annotations" list: {TOP_LEVEL}'),
    ('segment_id_0', set_first_segment('id', 0),
     f'{{ann}}: {IMAGE_1}: segments_info[0] has id 0, not a whole number '
     'from 1 to 16777215: 0 is VOID in a panoptic PNG (pixels of no '
     'segment); give the segment another id, in the JSON and in its PNG'),
]


@pytest.mark.parametrize('change,expected', [case[1:] for case in JSON_CASES],
                         ids=[case[0] for case in JSON_CASES])
def test_bad_annotation_file_fails_at_load_naming_the_fault(
        synthetic_root, monkeypatch, change, expected):
    seg = first_segment_id(synthetic_root)
    ann = edit_json(synthetic_root, change)
    assert load_error(synthetic_root, monkeypatch) == expected.format(
        ann=ann, seg=seg)


def test_class_both_thing_and_stuff_fails_at_load(synthetic_root,
                                                  monkeypatch):
    metainfo = build_train_set(synthetic_root, monkeypatch).metainfo
    overlapping = dict(
        classes=metainfo['classes'],
        thing_classes=metainfo['thing_classes'],
        stuff_classes=('cross', ) + metainfo['stuff_classes'])
    assert load_error(synthetic_root, monkeypatch, metainfo=overlapping) == (
        f'{osp.join(synthetic_root, TRAIN_JSON)}: the dataset\'s metainfo '
        "lists ['cross'] in both thing_classes and stuff_classes: a class is "
        'a thing or stuff, so remove each from one of them')


def test_truncated_json_fails_at_load(synthetic_root, monkeypatch):
    path = osp.join(synthetic_root, TRAIN_JSON)
    content = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(content[:len(content) // 2])
    message = load_error(synthetic_root, monkeypatch)
    assert message.startswith(f'{path} is not valid JSON (')
    assert message.endswith(
        f'; {len(content) // 2} bytes): the file is truncated or corrupt; '
        'write or download it again')


def test_json_list_fails_at_load(synthetic_root, monkeypatch):
    path = osp.join(synthetic_root, TRAIN_JSON)
    with open(path) as f:
        data = json.load(f)
    with open(path, 'w') as f:
        json.dump([data], f)
    assert load_error(synthetic_root, monkeypatch) == (
        f'{path} holds a list, not the object of a COCO panoptic annotation '
        'file (with "images", "annotations" and "categories")')


def test_many_problems_are_counted_beyond_the_first(synthetic_root,
                                                    monkeypatch):

    def no_boxes(data):
        for ann in data['annotations']:
            for segment in ann['segments_info']:
                del segment['bbox']

    edit_json(synthetic_root, no_boxes)
    lines = load_error(synthetic_root, monkeypatch).split('\n')
    count = int(lines[0].split()[0])
    assert count > MAX_LISTED_PROBLEMS + 1
    assert lines[0] == f'{count} problems:'
    assert len(lines) == MAX_LISTED_PROBLEMS + 2
    assert all('has no "bbox"' in line for line in lines[1:-1])
    assert lines[-1] == (
        f'... and {count - MAX_LISTED_PROBLEMS} more; '
        'tools/misc/check_dataset.py lists them all')


def test_file_without_annotations_loads_without_panoptic_pngs(
        synthetic_root, monkeypatch):
    """Image information only (COCO's test-dev) needs no annotations when the
    dataset reads no PNG."""
    edit_json(synthetic_root, lambda data: data.pop('annotations'))
    cfg = tiny_config(synthetic_root, monkeypatch).train_dataloader.dataset
    cfg.data_prefix = dict(img='train/')
    assert len(DATASETS.build(cfg)) == 6


@pytest.mark.parametrize('kind', ['image', 'panoptic PNG'])
def test_zero_byte_file_fails_when_read(synthetic_root, monkeypatch, kind):
    path = (image_path if kind == 'image' else png_path)(synthetic_root, 2)
    open(path, 'wb').close()
    size = ' (0 bytes)' if kind == 'image' else ''
    assert read_error(synthetic_root, monkeypatch, 1) == (
        f'Cannot decode {kind} {path}{size}: the file is truncated, corrupt '
        'or not an image')


def load_checker():
    """tools/misc/check_dataset.py as a module, to run in this process."""
    spec = importlib.util.spec_from_file_location(
        'check_dataset', osp.join(REPO_ROOT, 'tools', 'misc',
                                  'check_dataset.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_checker_passes_clean_data(generated_root, monkeypatch, capsys):
    monkeypatch.setenv('MMPFCN_TEST_DATA', generated_root)
    assert load_checker().main([CONFIG]) == 0
    lines = capsys.readouterr().out.splitlines()
    ann = osp.join(generated_root, 'annotations', 'panoptic_{}.json')
    assert lines[-4:] == [
        f'train_dataloader.dataset ({ann.format("train")}): 6 image(s) read, '
        '0 problem(s)',
        f'val_dataloader.dataset ({ann.format("val")}): 3 image(s) read, '
        '0 problem(s)',
        'test_dataloader.dataset: the same dataset as above',
        'No problem found',
    ]


def test_checker_lists_every_problem_with_its_file(synthetic_root, tmp_path):
    """Two faults in the train JSON; in val, a zero-byte image, a missing
    PNG, a PNG of another size and one with a segment the JSON lacks."""

    def two_faults(data):
        first_segment(data).pop('category_id')
        data['images'][2].pop('height')

    seg = first_segment_id(synthetic_root)
    edit_json(synthetic_root, two_faults)
    val = osp.join(synthetic_root, 'val')
    val_pngs = osp.join(synthetic_root, 'annotations', 'panoptic_val')
    open(osp.join(val, '000001.png'), 'wb').close()
    os.remove(osp.join(val_pngs, '000002.png'))
    small = osp.join(val_pngs, '000003.png')
    Image.open(small).resize((32, 64)).save(small)
    with open(osp.join(synthetic_root, 'annotations',
                       'panoptic_val.json')) as f:
        listed = [s['id'] for s in json.load(f)['annotations'][0]
                  ['segments_info']]
    assert 200 not in listed
    first_png = osp.join(val_pngs, '000001.png')
    pixels = np.array(Image.open(first_png))
    pixels[:2, :2] = (200, 0, 0)
    Image.fromarray(pixels).save(first_png)

    result = run_tool('misc/check_dataset.py', CONFIG, '--split', 'all',
                      data_root=synthetic_root, cwd=str(tmp_path))
    assert result.returncode == 1, result.stderr[-3000:]
    train_json = osp.join(synthetic_root, TRAIN_JSON)
    val_json = osp.join(synthetic_root, 'annotations', 'panoptic_val.json')
    problems = [
        f'{train_json}: image id 3 (file_name "000003.png") has no "height": '
        f'give it {NEEDS["image"]}',
        f'{train_json}: {IMAGE_1}: segment {seg} has no "category_id": give '
        f'it {NEEDS["segment"]}',
        f'{val_json}: image id 2 (file_name "000002.png"): panoptic PNG '
        f'{osp.join(val_pngs, "000002.png")} is missing',
        f'Cannot decode image {osp.join(val, "000001.png")} (0 bytes): the '
        'file is truncated, corrupt or not an image',
        f'Panoptic PNG {first_png} has pixels of segment id(s) [200] that the '
        'annotation JSON does not list for image id 1',
        f'Panoptic PNG {small} is 32x64 (width x height) but its image '
        f'{osp.join(val, "000003.png")} is 64x64',
    ]
    assert result.stdout.splitlines()[-10:] == [
        *problems[:2],
        f'train_dataloader.dataset ({train_json}): 0 image(s) read, '
        '2 problem(s)',
        *problems[2:],
        f'val_dataloader.dataset ({val_json}): 2 image(s) read, 4 problem(s)',
        'test_dataloader.dataset: the same dataset as above',
        '6 problem(s) found: fix them before training',
    ]
