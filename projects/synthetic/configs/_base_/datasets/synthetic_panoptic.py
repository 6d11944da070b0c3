# Synthetic COCO-panoptic dataset (shapes on textures) written by
# projects/synthetic/tools/generate_synthetic_panoptic.py with its defaults:
# 3000 train / 100 val images of 256x256, seed 0. The classes equal
# projects.synthetic.synthetic_panoptic.SYNTHETIC_METAINFO (things first, as
# MMDet labels them).
dataset_type = 'CocoPanopticDataset'
data_root = 'data/synthetic/'
image_size = (256, 256)
metainfo = dict(
    classes=('circle', 'square', 'triangle', 'star', 'ring', 'cross',
             'stripes', 'checker', 'dots', 'noise'),
    thing_classes=('circle', 'square', 'triangle', 'star', 'ring', 'cross'),
    stuff_classes=('stripes', 'checker', 'dots', 'noise'),
    # A list: MMDet's get_palette takes a tuple for one colour for all.
    palette=[(220, 20, 60), (0, 130, 200), (60, 180, 75), (245, 130, 48),
             (145, 30, 180), (70, 240, 240), (128, 128, 0), (170, 110, 40),
             (90, 90, 90), (250, 190, 210)],
    # The category id of each label (saved in checkpoints' dataset_meta).
    category_ids=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10))
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(
        type='LoadPanopticAnnotations',
        with_bbox=True,
        with_mask=True,
        with_seg=True,
        backend_args=backend_args),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadPanopticAnnotations', backend_args=backend_args),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]

# Settings both splits share; the splits differ in files and pipelines.
split_common = dict(
    type=dataset_type,
    data_root=data_root,
    metainfo=metainfo,
    backend_args=backend_args)
# Images without things stay in training (they teach the stuff branch and
# the absence of things); every tenth generated image has none.
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        ann_file='annotations/panoptic_train.json',
        data_prefix=dict(img='train/', seg='annotations/panoptic_train/'),
        filter_cfg=dict(filter_empty_gt=False, min_size=32),
        pipeline=train_pipeline,
        **split_common))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        ann_file='annotations/panoptic_val.json',
        data_prefix=dict(img='val/', seg='annotations/panoptic_val/'),
        test_mode=True,
        pipeline=test_pipeline,
        **split_common))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='CocoPanopticSizeMetric',
    ann_file=data_root + 'annotations/panoptic_val.json',
    seg_prefix=data_root + 'annotations/panoptic_val/',
    backend_args=backend_args)
test_evaluator = val_evaluator
