# Cityscapes panoptic (fine annotations), read by mmpfcn's CityscapesPanopticDataset from the output
# of cityscapesscripts' own converter. Layout under data_root (docs/datasets/cityscapes.md;
# tools/dataset_converters/cityscapes.py writes the last two lines):
#   leftImg8bit/{train,val}/<city>/<city>_<seq>_<frame>_leftImg8bit.png
#   gtFine/{train,val}/<city>/<city>_<seq>_<frame>_gtFine_{labelIds,instanceIds}.png
#   gtFine/cityscapes_panoptic_{train,val}.json
#   gtFine/cityscapes_panoptic_{train,val}/<city>_<seq>_<frame>_gtFine_panoptic.png
# Training as the paper's Cityscapes settings and the authors' re-run: the short side drawn from
# 512-2048 in steps of 256 (the long side at most 4096: 0.5-2x the 1024x2048 images), a 512x1024
# crop that keeps an object in view, random horizontal flip. Test at the full 1024x2048. The
# evaluator gives the same figures as cityscapesscripts' evalPanopticSemanticLabeling.
_base_ = './street_scenes_panoptic.py'

dataset_type = 'CityscapesPanopticDataset'
data_root = 'data/cityscapes/'

train_pipeline = [
    {{_base_.load_image}},
    {{_base_.load_panoptic}},
    dict(
        type='RandomChoiceResize',
        scales=[(4096, 512), (4096, 768), (4096, 1024), (4096, 1280), (4096, 1536), (4096, 1792),
                (4096, 2048)],
        keep_ratio=True),
    # MMDetection's crop_size is (width, height).
    dict(type='RandomCropWithInstance', crop_size=(1024, 512), recompute_bbox=True,
         allow_negative_crop=True),
    {{_base_.flip}},
    {{_base_.pack_train}},
]
test_pipeline = [
    {{_base_.load_image}},
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    {{_base_.load_panoptic}},
    {{_base_.pack_test}},
]
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='gtFine/cityscapes_panoptic_train.json',
        data_prefix=dict(img='leftImg8bit/train/', seg='gtFine/cityscapes_panoptic_train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='gtFine/cityscapes_panoptic_val.json',
        data_prefix=dict(img='leftImg8bit/val/', seg='gtFine/cityscapes_panoptic_val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    ann_file=data_root + 'gtFine/cityscapes_panoptic_val.json',
    seg_prefix=data_root + 'gtFine/cityscapes_panoptic_val/')
test_evaluator = val_evaluator
