# Test-only config for tests/test_tools/test_benchmark.py: the synthetic Panoptic FCN
# (R18) with an 8-channel backbone and 16-channel heads, testing at 64 px.
_base_ = ['../../../projects/synthetic/configs/panoptic-fcn_r18_fpn_synthetic.py']

width = 16
embed = 8
gn = dict(type='GN', num_groups=4, requires_grad=True)

model = dict(
    backbone=dict(base_channels=8, norm_cfg=gn),
    neck=dict(in_channels=[8, 16, 32, 64], out_channels=width),
    feature_encoder=dict(
        in_channels=width, fpn_channels=width, out_channels=embed,
        num_convs=1, norm_cfg=gn),
    kernel_generator=dict(
        position_head=dict(in_channels=width, feat_channels=width, num_convs=1, norm_cfg=gn),
        kernel_head=dict(
            in_channels=width, feat_channels=width, embed_channels=embed, num_convs=1,
            norm_cfg=gn)),
    test_cfg=dict(stuff_area_limit=16))

# The synthetic test pipeline at 64 px (the generated test set's size).
test_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(64, 64), keep_ratio=True),
        dict(type='LoadPanopticAnnotations'),
        dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                                              'scale_factor')),
    ]))
