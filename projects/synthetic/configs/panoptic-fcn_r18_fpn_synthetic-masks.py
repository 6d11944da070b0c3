# Panoptic FCN (R18) on a data set converted from per-image masks: the worked
# example of docs/custom_dataset.md (the synthetic set exported to masks and
# converted back with tools/dataset_converters/panoptic_masks.py). For your
# own data set, change data_root, the classes and the paths below.
_base_ = './panoptic-fcn_r18_fpn_synthetic.py'

data_root = 'data/synthetic_masks/'
# The names of classes.json; things first, as the model numbers its classes
# (the dataset maps the JSON's categories to these by name).
thing_classes = ('circle', 'square', 'triangle', 'star', 'ring', 'cross')
stuff_classes = ('stripes', 'checker', 'dots', 'noise')
# _delete_: replace the base's metainfo (the synthetic set's palette and
# category ids) instead of merging into it.
metainfo = dict(
    _delete_=True,
    classes=thing_classes + stuff_classes,
    thing_classes=thing_classes,
    stuff_classes=stuff_classes)

model = dict(
    num_things_classes=len(thing_classes),
    num_stuff_classes=len(stuff_classes))

train_dataloader = dict(
    dataset=dict(
        type='CheckedCocoPanopticDataset',
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/panoptic_train.json',
        data_prefix=dict(img='train/', seg='annotations/panoptic_train/')))
val_dataloader = dict(
    dataset=dict(
        type='CheckedCocoPanopticDataset',
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/panoptic_val.json',
        data_prefix=dict(img='val/', seg='annotations/panoptic_val/')))
test_dataloader = val_dataloader

val_evaluator = dict(
    ann_file=data_root + 'annotations/panoptic_val.json',
    seg_prefix=data_root + 'annotations/panoptic_val/')
test_evaluator = val_evaluator
