# Panoptic FCN with a ResNet-101 (MSRA/caffe style) backbone, 3x schedule.
_base_ = './panoptic-fcn_r50_fpn_8xb2-ms-3x_coco.py'
model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://detectron2/resnet101_caffe')))
