# Mapillary Vistas v1.2 panoptic, read by mmpfcn's MapillaryVistasPanopticDataset as the dataset
# ships it. Layout under data_root (docs/datasets/mapillary_vistas.md):
#   {training,validation}/images/<id>.jpg
#   {training,validation}/panoptic/panoptic_2018.json
#   {training,validation}/panoptic/<id>.png
# Training as the authors' Mapillary settings: the short side drawn from 1024-2048 in steps of 128
# (the long side at most 4096), a 1024x1024 crop that keeps an object in view, random horizontal
# flip. Test with the long side at 2048.
_base_ = './street_scenes_panoptic.py'

dataset_type = 'MapillaryVistasPanopticDataset'
data_root = 'data/mapillary_vistas/'

train_pipeline = [
    {{_base_.load_image}},
    {{_base_.load_panoptic}},
    dict(
        type='RandomChoiceResize',
        scales=[(4096, 1024), (4096, 1152), (4096, 1280), (4096, 1408), (4096, 1536),
                (4096, 1664), (4096, 1792), (4096, 1920), (4096, 2048)],
        keep_ratio=True),
    dict(type='RandomCropWithInstance', crop_size=(1024, 1024), recompute_bbox=True,
         allow_negative_crop=True),
    {{_base_.flip}},
    {{_base_.pack_train}},
]
test_pipeline = [
    {{_base_.load_image}},
    dict(type='Resize', scale=(2048, 2048), keep_ratio=True),
    {{_base_.load_panoptic}},
    {{_base_.pack_test}},
]
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='training/panoptic/panoptic_2018.json',
        data_prefix=dict(img='training/images/', seg='training/panoptic/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='validation/panoptic/panoptic_2018.json',
        data_prefix=dict(img='validation/images/', seg='validation/panoptic/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    ann_file=data_root + 'validation/panoptic/panoptic_2018.json',
    seg_prefix=data_root + 'validation/panoptic/')
test_evaluator = val_evaluator
