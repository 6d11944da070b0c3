# Test-only config: the tiny Panoptic FCN (tiny_panoptic_fcn.py) on a tiny generated Cityscapes
# tree (tests/test_datasets/panoptic_trees.py, converted by tools/dataset_converters/cityscapes.py), with
# the Cityscapes dataset, its object-keeping crop (64x64 here) and evaluator.
# The data root comes from the environment: MMPFCN_TEST_DATA=<cityscapes dir>.
_base_ = ['./tiny_panoptic_fcn.py']

data_root = '{{$MMPFCN_TEST_DATA:data/cityscapes}}/'
model = dict(num_things_classes=8, num_stuff_classes=11)

cityscapes = dict(type='CityscapesPanopticDataset', data_root=data_root, _delete_=True)
train_dataloader = dict(
    dataset=dict(
        ann_file='gtFine/cityscapes_panoptic_train.json',
        data_prefix=dict(img='leftImg8bit/train/', seg='gtFine/cityscapes_panoptic_train/'),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadPanopticAnnotations', with_bbox=True, with_mask=True, with_seg=True),
            dict(type='RandomCropWithInstance', crop_size=(64, 64), allow_negative_crop=True),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackDetInputs')
        ],
        **cityscapes))
val_dataloader = dict(
    dataset=dict(
        ann_file='gtFine/cityscapes_panoptic_val.json',
        data_prefix=dict(img='leftImg8bit/val/', seg='gtFine/cityscapes_panoptic_val/'),
        test_mode=True,
        pipeline={{_base_.val_dataloader.dataset.pipeline}},
        **cityscapes))
test_dataloader = val_dataloader
val_evaluator = dict(
    ann_file=data_root + 'gtFine/cityscapes_panoptic_val.json',
    seg_prefix=data_root + 'gtFine/cityscapes_panoptic_val/')
test_evaluator = val_evaluator
