"""Per-image masks to COCO panoptic files and back: exact round trips of the
arrays and of a folder through tools/dataset_converters/panoptic_masks.py,
the converted set read by CheckedCocoPanopticDataset, bad input named by
file, and the config of docs/custom_dataset.md's example."""
import json
import os
import os.path as osp
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mmdet.registry import DATASETS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

import mmpfcn  # noqa: F401  (registers the dataset and transforms)
from mmpfcn.apis.config_validation import validate_config
from mmpfcn.datasets import (BadDataError, convert_mask_folder,
                             masks_to_panoptic, panoptic_to_masks)
from projects.synthetic.synthetic_panoptic import STUFF_CLASSES, THING_CLASSES

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'dataset_converters', 'panoptic_masks.py')
EXAMPLE_CONFIG = osp.join(ROOT, 'projects', 'synthetic', 'configs',
                          'panoptic-fcn_r18_fpn_synthetic-masks.py')
# Things and stuff interleaved, as a user's class list may be.
CLASSES = [
    dict(name='sky', isthing=0),
    dict(name='car', isthing=1),
    dict(name='road', isthing=0),
    dict(name='person', isthing=1)
]
IS_THING = np.array([bool(cls['isthing']) for cls in CLASSES])
VOID = 255
HEIGHT, WIDTH = 12, 16


def random_masks(seed: int) -> tuple:
    """Semantic and instance masks with stuff, things, crowd (thing pixels of
    instance 0), void, and instance ids 3, 17, 250 and 999."""
    rng = np.random.default_rng(seed)
    semantic = rng.integers(0, len(CLASSES), (HEIGHT, WIDTH)).astype(np.uint8)
    semantic[rng.random((HEIGHT, WIDTH)) < 0.1] = VOID
    things = (semantic != VOID) & IS_THING[semantic % len(CLASSES)]
    ids = rng.choice([0, 3, 17, 250, 999], things.shape)
    instances = np.where(things, ids, 0).astype(np.uint16)
    return semantic, instances


def expected_segments(semantic: np.ndarray, instances: np.ndarray) -> list:
    """The (class index, instance id) pairs of the labelled pixels, sorted,
    read from the masks alone."""
    labelled = semantic != VOID
    return sorted(set(zip(semantic[labelled].tolist(),
                          instances[labelled].tolist())))


def test_masks_to_panoptic_gives_ids_and_segments():
    semantic = np.array([[0, 0, 1, 1],
                         [0, VOID, 1, 3],
                         [2, 2, 3, 3]], np.uint8)  # yapf: disable
    # The void pixel's instance id is ignored.
    instances = np.array([[0, 0, 5, 5],
                          [0, 9, 0, 7],
                          [0, 0, 7, 0]], np.uint8)  # yapf: disable
    ids, segments = masks_to_panoptic(semantic, instances, CLASSES)
    assert ids.tolist() == [[1000, 1000, 2005, 2005],
                            [1000, 0, 2000, 4007],
                            [3000, 3000, 4007, 4000]]  # yapf: disable
    assert segments == [
        dict(id=1000, category_id=1, iscrowd=0, area=3, bbox=[0, 0, 2, 2]),
        dict(id=2000, category_id=2, iscrowd=1, area=1, bbox=[2, 1, 1, 1]),
        dict(id=2005, category_id=2, iscrowd=0, area=2, bbox=[2, 0, 2, 1]),
        dict(id=3000, category_id=3, iscrowd=0, area=2, bbox=[0, 2, 2, 1]),
        dict(id=4000, category_id=4, iscrowd=1, area=1, bbox=[3, 2, 1, 1]),
        dict(id=4007, category_id=4, iscrowd=0, area=2, bbox=[2, 1, 2, 2]),
    ]
    back_semantic, back_instances = panoptic_to_masks(ids, segments, CLASSES)
    assert back_semantic.tolist() == semantic.tolist()
    instances[1, 1] = 0
    assert back_instances.tolist() == instances.tolist()

    # Ids of another writer, with categories 7, 3, 20, 5: the things are
    # numbered 1..k in segments_info order, crowd 0.
    foreign = {1000: 11, 2000: 12, 2005: 13, 3000: 14, 4000: 15, 4007: 16}
    category_ids = [7, 3, 20, 5]
    foreign_segments = [
        dict(seg,
             id=foreign[seg['id']],
             category_id=category_ids[seg['category_id'] - 1])
        for seg in segments
    ]
    foreign_ids = np.vectorize(lambda i: foreign.get(i, 0))(ids)
    back_semantic, back_instances = panoptic_to_masks(
        foreign_ids, foreign_segments, CLASSES, category_ids=category_ids)
    assert back_semantic.tolist() == semantic.tolist()
    assert back_instances.tolist() == [[0, 0, 1, 1],
                                       [0, 0, 0, 2],
                                       [0, 0, 2, 0]]  # yapf: disable


@pytest.mark.parametrize('seed', range(4))
def test_random_masks_survive_the_round_trip(seed):
    semantic, instances = random_masks(seed)
    assert {0, 3, 17, 250, 999} <= set(instances[semantic != VOID].tolist())
    assert (semantic == VOID).any()
    ids, segments = masks_to_panoptic(semantic, instances, CLASSES)
    assert [(seg['id'] // 1000 - 1, seg['id'] % 1000) for seg in segments
            ] == expected_segments(semantic, instances)
    for seg in segments:
        mask = ids == seg['id']
        rows, cols = np.nonzero(mask)
        assert seg['category_id'] == seg['id'] // 1000
        assert seg['iscrowd'] == int(IS_THING[seg['category_id'] - 1]
                                     and seg['id'] % 1000 == 0)
        assert seg['area'] == mask.sum()
        assert seg['bbox'] == [
            cols.min(), rows.min(),
            cols.max() - cols.min() + 1,
            rows.max() - rows.min() + 1
        ]
    back_semantic, back_instances = panoptic_to_masks(ids, segments, CLASSES)
    assert np.array_equal(back_semantic, semantic)
    assert np.array_equal(back_instances, instances)


def write_mask_folder(root: str) -> dict:
    """``images/`` (a.png, b.jpg, c.png), ``masks/`` (c without instance
    mask: its things are crowd) and ``classes.json`` under ``root``; returns
    the masks by stem."""
    rng = np.random.default_rng(7)
    masks = {}
    for seed, name in enumerate(('a.png', 'b.jpg', 'c.png')):
        stem = osp.splitext(name)[0]
        semantic, instances = random_masks(seed)
        if stem == 'c':
            instances[:] = 0
        masks[stem] = (semantic, instances)
        os.makedirs(osp.join(root, 'images'), exist_ok=True)
        Image.fromarray(
            rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)).save(
                osp.join(root, 'images', name))
        write_mask(osp.join(root, 'masks', 'semantic', f'{stem}.png'),
                   semantic)
        if stem != 'c':
            write_mask(osp.join(root, 'masks', 'instances', f'{stem}.png'),
                       instances)
    with open(osp.join(root, 'images', 'notes.txt'), 'w') as f:
        f.write('not an image')
    with open(osp.join(root, 'classes.json'), 'w') as f:
        json.dump(CLASSES, f)
    return masks


def write_mask(path: str, mask: np.ndarray) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(mask).save(path)


def read_mask(path: str) -> np.ndarray:
    with Image.open(path) as image:
        return np.array(image)


def run_tool(*args: str) -> str:
    proc = subprocess.run([sys.executable, TOOL, *args],
                          cwd=ROOT,
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_folder_round_trip_through_the_tool_and_the_dataset(tmp_path):
    root = str(tmp_path)
    masks = write_mask_folder(root)
    segments = {stem: expected_segments(*m) for stem, m in masks.items()}
    num_segments = sum(len(s) for s in segments.values())
    num_crowd = sum(
        IS_THING[cls] and instance == 0 for s in segments.values()
        for cls, instance in s)
    out = run_tool('to-coco', f'{root}/images', f'{root}/masks',
                   f'{root}/classes.json', f'{root}/panoptic.json',
                   f'{root}/panoptic')
    assert out.startswith(f'wrote 3 images, {num_segments} segments '
                          f'({num_crowd} crowd)')
    out = run_tool('to-masks', f'{root}/panoptic.json', f'{root}/panoptic',
                   f'{root}/back')
    assert out.startswith(f'wrote 3 images, {num_segments} segments')
    for stem, (semantic, instances) in masks.items():
        assert np.array_equal(
            read_mask(f'{root}/back/semantic/{stem}.png'), semantic)
        assert np.array_equal(
            read_mask(f'{root}/back/instances/{stem}.png'), instances)
    with open(f'{root}/back/classes.json') as f:
        assert json.load(f) == CLASSES

    things = [cls['name'] for cls in CLASSES if cls['isthing']]
    stuff = [cls['name'] for cls in CLASSES if not cls['isthing']]
    init_default_scope('mmdet')
    dataset = DATASETS.build(
        dict(
            type='CheckedCocoPanopticDataset',
            data_root=root,
            ann_file='panoptic.json',
            data_prefix=dict(img='images/', seg='panoptic/'),
            metainfo=dict(
                classes=things + stuff,
                thing_classes=things,
                stuff_classes=stuff),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadPanopticAnnotations', backend_args=None)
            ],
            test_mode=True))
    assert len(dataset) == 3
    assert len(dataset.get_data_info(0)['segments_info']) == len(segments['a'])
    # Labels by name: things first, whatever the order of the classes file.
    label_of = np.full(VOID + 1, VOID)
    label_of[:len(CLASSES)] = [(things + stuff).index(c['name'])
                               for c in CLASSES]
    sample = dataset[0]
    semantic = masks['a'][0]
    assert sample['img'].shape == (HEIGHT, WIDTH, 3)
    assert np.array_equal(sample['gt_seg_map'], label_of[semantic])
    # One instance per non-crowd thing segment (MMDetection leaves out crowd).
    instance_labels = [label_of[c] for c, i in segments['a'] if i != 0]
    assert sample['gt_bboxes_labels'].tolist() == instance_labels
    assert len(sample['gt_masks']) == len(instance_labels)


def set_mask_pixel(path: str, where, value: int) -> None:
    """Set to ``value`` the first pixel of the mask at ``path`` that
    ``where(semantic)`` selects in the image's semantic mask."""
    mask = read_mask(path)
    semantic = read_mask(path.replace('instances', 'semantic'))
    mask[tuple(np.argwhere(where(semantic))[0])] = value
    write_mask(path, mask)


BAD_INPUTS = {
    'missing semantic mask':
    ('masks/semantic/b.png', 'missing', os.remove),
    'image and semantic sizes differ':
    ('masks/semantic/b.png', 'but the image',
     lambda path: write_mask(path, np.zeros((HEIGHT - 2, WIDTH), np.uint8))),
    'semantic and instance sizes differ':
    ('masks/instances/a.png', 'is 12x15',
     lambda path: write_mask(path, np.zeros((HEIGHT, WIDTH - 1), np.uint8))),
    'class index outside the list':
    ('masks/semantic/a.png', 'class index [4]',
     lambda path: set_mask_pixel(path, lambda s: s == 0, 4)),
    'instance id on stuff':
    ('masks/instances/a.png', "stuff class(es) ['sky']",
     lambda path: set_mask_pixel(path, lambda s: s == 0, 3)),
    'instance id 1000':
    ('masks/instances/a.png', 'instance id [1000]',
     lambda path: set_mask_pixel(path, lambda s: s == 1, 1000)),
    'unreadable png':
    ('masks/semantic/c.png', 'cannot read the PNG',
     lambda path: Path(path).write_bytes(b'not a png')),
    'duplicate class names':
    ('classes.json', "duplicate class names ['car']",
     lambda path: Path(path).write_text(json.dumps(CLASSES + CLASSES[1:2]))),
}


@pytest.mark.parametrize('case', BAD_INPUTS)
def test_bad_input_names_the_file(case, tmp_path):
    root = str(tmp_path)
    write_mask_folder(root)
    name, what, spoil = BAD_INPUTS[case]
    path = osp.join(root, name)
    spoil(path)
    with pytest.raises(
            BadDataError, match=re.escape(path) + '.*' + re.escape(what)):
        convert_mask_folder(f'{root}/images', f'{root}/masks',
                            f'{root}/classes.json', f'{root}/out.json',
                            f'{root}/out')
    assert not osp.exists(f'{root}/out.json')


def test_example_config_declares_the_synthetic_classes():
    """docs/custom_dataset.md's config: the classes that ``to-masks`` writes
    for the synthetic set, things first, and the model's counts of them."""
    cfg = Config.fromfile(EXAMPLE_CONFIG)
    validate_config(cfg)  # the model's class counts equal every dataset's
    assert cfg.model.num_things_classes == len(THING_CLASSES)
    assert cfg.model.num_stuff_classes == len(STUFF_CLASSES)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        assert dataset.type == 'CheckedCocoPanopticDataset'
        assert dataset.data_root == cfg.data_root
        # The base's palette and category ids are gone.
        assert dataset.metainfo == dict(
            classes=THING_CLASSES + STUFF_CLASSES,
            thing_classes=THING_CLASSES,
            stuff_classes=STUFF_CLASSES)
    for evaluator in ('val_evaluator', 'test_evaluator'):
        assert cfg[evaluator].ann_file == (
            cfg.data_root + cfg.val_dataloader.dataset.ann_file)
        assert cfg[evaluator].seg_prefix == (
            cfg.data_root + cfg.val_dataloader.dataset.data_prefix.seg)
