# What the street-scene panoptic datasets (Cityscapes, Mapillary Vistas) share: their loaders,
# the object-keeping random crop, 4 images per GPU (the authors' 32 on 8 GPUs), one at test, and
# mmpfcn's metric. cityscapes_panoptic.py and mapillary_vistas_panoptic.py inherit it and set the
# dataset, its files, the training scales, the crop size and the test size.
backend_args = None

load_image = dict(type='LoadImageFromFile', backend_args=backend_args)
load_panoptic = dict(
    type='LoadPanopticAnnotations',
    with_bbox=True,
    with_mask=True,
    with_seg=True,
    backend_args=backend_args)
flip = dict(type='RandomFlip', prob=0.5)
pack_train = dict(type='PackDetInputs')
# As MMDetection's test pipelines: the annotations are loaded after resizing, so they keep the
# original size.
pack_test = dict(
    type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))

train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(filter_cfg=dict(filter_empty_gt=True, min_size=32), backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(test_mode=True, backend_args=backend_args))
test_dataloader = val_dataloader
# MMDetection's panoptic quality (panopticapi's rules, scored by hotcoco) plus PQ by object size.
val_evaluator = dict(type='CocoPanopticSizeMetric', backend_args=backend_args)
test_evaluator = val_evaluator
