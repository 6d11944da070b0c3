# Panoptic FCN* (enhanced): deformable convs and 256 channels in the feature encoder, R50 3x.
_base_ = [
    '../_base_/models/panoptic-fcn_r50_fpn.py',
    '../_base_/datasets/coco_panoptic_checked.py',
    '../_base_/schedules/schedule_poly_270k.py',
]
model = dict(
    feature_encoder=dict(out_channels=256, encoder_conv_cfg=dict(type='SampledDCNv2')),
    kernel_generator=dict(kernel_head=dict(embed_channels=256)))
