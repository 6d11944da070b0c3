# COCO panoptic as MMDetection's base, read by mmpfcn's checked dataset and loaders, which name a
# bad image or annotation file instead of failing inside a worker (docs/reliability.md).
# The pipelines name MMDetection's loaders, as DetInferencer expects; CheckedCocoPanopticDataset
# builds them as LoadCheckedImageFromFile / LoadCheckedPanopticAnnotations.
# The authors' resizing: multi-scale training at 640-800 short side (1333 long side), random
# horizontal flip, test at 800 / 1333.
_base_ = 'mmdet::_base_/datasets/coco_panoptic.py'

# Named steps, so that the test-size variants change only the resizing
# (`{{_base_.load_image}}` etc.).
load_image = dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}})
load_panoptic = dict(
    type='LoadPanopticAnnotations',
    with_bbox=True,
    with_mask=True,
    with_seg=True,
    backend_args={{_base_.backend_args}})
pack_train = dict(type='PackDetInputs')
pack_test = dict(
    type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
train_pipeline = [
    load_image,
    load_panoptic,
    dict(
        type='RandomChoiceResize',
        scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736), (1333, 768), (1333, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    pack_train,
]
# As MMDet's: the annotations are loaded after resizing, so they keep the original size.
test_pipeline = [
    load_image,
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    load_panoptic,
    pack_test,
]
# 2 images per GPU; the configs' `8xb2` is the authors' 16 images per batch on 8 GPUs.
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    dataset=dict(type='CheckedCocoPanopticDataset', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type='CheckedCocoPanopticDataset', pipeline=test_pipeline))
test_dataloader = val_dataloader
# mmpfcn's metric: MMDetection's panoptic quality and PQ by object size, scored by hotcoco
# (panopticapi's rules, the same figures) and mapping categories by name.
val_evaluator = dict(type='CocoPanopticSizeMetric')
test_evaluator = val_evaluator
