"""Panoptic FCN can overfit two generated images: losses drop and its own prediction reaches PQ >= 80."""
import json
import os.path as osp

import torch
from mmdet.registry import DATASETS, METRICS, MODELS
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from projects.synthetic.synthetic_panoptic import SYNTHETIC_METAINFO, generate_synthetic_panoptic
from tiny_panoptic_fcn import tiny_model_cfg

SIZE = 128


def pick_images(ann_file, count=2, min_area=300):
    """Indices of images with at least two things, none smaller than ``min_area`` pixels.

    A thing of a few pixels is below the resolution of the stride-4 masks, so it says nothing
    about whether the model can fit what it can represent.
    """
    ann = json.load(open(ann_file))
    things = {c['id'] for c in ann['categories'] if c['isthing']}
    picked = []
    for index, image_ann in enumerate(ann['annotations']):
        areas = [s['area'] for s in image_ann['segments_info'] if s['category_id'] in things]
        if len(areas) >= 2 and min(areas) >= min_area:
            picked.append(index)
    return picked[:count]


def test_overfits_two_images(tmp_path):
    torch.manual_seed(0)
    init_default_scope('mmdet')
    root = str(tmp_path / 'synthetic')
    generate_synthetic_panoptic(root, num_train=20, num_val=1, size=SIZE, seed=3)
    indices = pick_images(osp.join(root, 'annotations/panoptic_train.json'))
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadPanopticAnnotations', with_bbox=True, with_mask=True, with_seg=True),
        dict(type='PackDetInputs'),
    ]
    dataset = DATASETS.build(
        dict(type='CocoPanopticDataset', data_root=root, ann_file='annotations/panoptic_train.json',
             data_prefix=dict(img='train/', seg='annotations/panoptic_train/'), metainfo=SYNTHETIC_METAINFO,
             indices=indices, pipeline=pipeline))
    assert len(dataset) == 2
    batch = pseudo_collate([dataset[0], dataset[1]])
    assert sum(len(s.gt_instances) for s in batch['data_samples']) > 0

    model = MODELS.build(tiny_model_cfg())
    model.init_weights()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    seg_losses = []
    model.train()
    for _ in range(150):
        data = model.data_preprocessor(batch, training=True)
        losses = model(**data, mode='loss')
        total = sum(losses.values())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        seg_losses.append(float(losses['loss_thing_mask'] + losses['loss_stuff_mask']))
        assert all(torch.isfinite(v) for v in losses.values())
    assert sum(seg_losses[-10:]) / 10 <= 0.2 * seg_losses[0], (seg_losses[0], seg_losses[-10:])

    model.eval()
    metric = METRICS.build(
        dict(type='CocoPanopticMetric', ann_file=osp.join(root, 'annotations/panoptic_train.json'),
             seg_prefix=osp.join(root, 'annotations/panoptic_train/')))
    metric.dataset_meta = dataset.metainfo
    with torch.no_grad():
        preds = model.test_step(batch)
    metric.process({}, [p.to_dict() for p in preds])
    scores = metric.evaluate(size=2)
    assert scores['coco_panoptic/PQ'] >= 80, scores
