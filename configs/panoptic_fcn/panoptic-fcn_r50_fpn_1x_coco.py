# Panoptic FCN R50 1x on COCO panoptic, the authors' PanopticFCN-R50-1x recipe:
# 90k iterations x 16 images, SGD 0.01 (no weight decay on norm layers, as detectron2), linear
# warm-up from 0.001 over 1000 iterations, poly decay (power 0.9), gradient clipping by value 35,
# multi-scale training 640-800 short side, test at 800 / 1333.
_base_ = [
    '../_base_/models/panoptic-fcn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_panoptic.py',
    'mmdet::_base_/default_runtime.py',
]

# Named steps, so that variants change only the resizing (`{{_base_.load_image}}` etc.). The checked
# dataset and loaders are MMDet's with clear errors for bad files (docs/reliability.md).
load_image = dict(type='LoadCheckedImageFromFile', backend_args={{_base_.backend_args}})
load_panoptic = dict(
    type='LoadCheckedPanopticAnnotations',
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
test_pipeline = [
    load_image,
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    load_panoptic,
    pack_test,
]
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    dataset=dict(type='CheckedCocoPanopticDataset', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type='CheckedCocoPanopticDataset', pipeline=test_pipeline))
test_dataloader = val_dataloader

max_iters = 90000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0),
    clip_grad=dict(type='value', clip_value=35.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=max_iters),
]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=10000, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
# MMDet's visualizer, also for predictions with no segment (`--show-dir`).
visualizer = dict(type='PanopticVisualizer')
# 8 GPUs x 2 images; `--auto-scale-lr` rescales the LR for other batch sizes.
auto_scale_lr = dict(enable=False, base_batch_size=16)
