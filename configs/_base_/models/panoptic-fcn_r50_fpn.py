# Panoptic FCN, ResNet-50 (MSRA/caffe style, frozen BN) + FPN P2-P7, as the authors' R50 configs.
# default_scope='mmdet' and the import of mmpfcn come with the runtime (_base_/default_runtime.py).

model = dict(
    type='PanopticFCN',
    # COCO panoptic: 80 thing and 53 stuff classes, declared once for every part of the model.
    num_things_classes=80,
    num_stuff_classes=53,
    # The authors' preprocessing: BGR input, their PIXEL_MEAN applied to B, G, R in this order,
    # std 1, zero padding (after normalisation) to a multiple of 32.
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[1.0, 1.0, 1.0],
        bgr_to_rgb=False,
        pad_size_divisor=32,
        pad_value=0,
        pad_mask=True,
        mask_pad_value=0,
        pad_seg=True,
        seg_pad_value=255),
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        style='caffe',
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://detectron2/resnet50_caffe')),
    neck=dict(
        type='FPN',
        in_channels=[256, 512, 1024, 2048],
        out_channels=256,
        num_outs=6,
        add_extra_convs='on_output',
        relu_before_extra_convs=True),
    feature_encoder=dict(
        type='FeatureEncoder',
        in_channels=256,
        in_indices=(0, 1, 2, 3),
        in_strides=(4, 8, 16, 32),
        fpn_channels=256,
        out_channels=64,
        num_convs=3,
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True)),
    kernel_generator=dict(
        type='KernelGenerator',
        in_indices=(1, 2, 3, 4, 5),
        position_head=dict(
            type='PositionHead',
            in_channels=256,
            feat_channels=256,
            num_convs=3,
            norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
            conv_cfg=dict(type='SampledDCNv2')),
        kernel_head=dict(
            type='KernelHead',
            in_channels=256,
            feat_channels=256,
            embed_channels=64,
            num_convs=3,
            norm_cfg=dict(type='GN', num_groups=32, requires_grad=True)),
        num_positives=7,
        target_generator=dict(
            type='PanopticFCNTargetGenerator',
            instance_scales=((1, 64), (32, 128), (64, 256), (128, 512), (256, 2048)),
            min_overlap=0.7,
            gaussian_sigma=3),
        loss_center=dict(
            type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, reduction='sum',
            loss_weight=1.0),
        loss_region=dict(
            type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, reduction='sum',
            loss_weight=1.0),
        loss_thing_mask=dict(type='WeightedDiceLoss', loss_weight=3.0),
        loss_stuff_mask=dict(type='WeightedDiceLoss', loss_weight=3.0)),
    panoptic_fusion_head=dict(type='PanopticFCNFusionHead'),
    train_cfg=None,
    # Every inference setting, with the paper's values: candidates and kernel fusion (KernelFusion)
    # and masks, re-scoring and panoptic combination (PanopticFCNFusionHead).
    test_cfg=dict(
        center_pool_sizes=(3, 3, 3, 5, 5),
        max_per_img=100,
        thing_score_thr=0.05,
        stuff_score_thr=0.05,
        similarity_thr=0.9,
        class_specific=True,
        mask_thr=0.4,
        instance_score_thr=0.05,
        panoptic_instance_score_thr=0.2,
        overlap_thr=0.5,
        stuff_area_limit=4096))
