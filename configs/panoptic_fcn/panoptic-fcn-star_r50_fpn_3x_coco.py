# Panoptic FCN* (enhanced): deformable convs and 256 channels in the feature encoder, R50 3x.
_base_ = './panoptic-fcn_r50_fpn_3x_coco.py'
model = dict(
    feature_encoder=dict(out_channels=256, encoder_conv_cfg=dict(type='SampledDCNv2')),
    kernel_generator=dict(embed_channels=256))
