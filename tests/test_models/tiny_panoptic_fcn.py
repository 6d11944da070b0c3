"""A small Panoptic FCN (ResNet-18, 64-channel FPN and heads) for the synthetic classes, random weights."""
from projects.synthetic.synthetic_panoptic import NUM_STUFF_CLASSES, NUM_THING_CLASSES


def tiny_model_cfg():
    gn = dict(type='GN', num_groups=16, requires_grad=True)
    return dict(
        type='PanopticFCN',
        num_things_classes=NUM_THING_CLASSES,
        num_stuff_classes=NUM_STUFF_CLASSES,
        data_preprocessor=dict(
            type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.4, 57.1, 57.4],
            bgr_to_rgb=True, pad_size_divisor=32, pad_mask=True, pad_seg=True, seg_pad_value=255),
        backbone=dict(type='ResNet', depth=18, out_indices=(0, 1, 2, 3),
                      norm_cfg=dict(type='GN', num_groups=16), init_cfg=None),
        neck=dict(type='FPN', in_channels=[64, 128, 256, 512], out_channels=64, num_outs=6,
                  add_extra_convs='on_output', relu_before_extra_convs=True),
        feature_encoder=dict(type='FeatureEncoder', in_channels=64, fpn_channels=64, out_channels=32,
                             norm_cfg=gn),
        kernel_generator=dict(
            type='KernelGenerator',
            position_head=dict(type='PositionHead', in_channels=64, feat_channels=64, norm_cfg=gn),
            kernel_head=dict(type='KernelHead', in_channels=64, feat_channels=64, embed_channels=32,
                             norm_cfg=gn)),
        test_cfg=dict(stuff_area_limit=64))
