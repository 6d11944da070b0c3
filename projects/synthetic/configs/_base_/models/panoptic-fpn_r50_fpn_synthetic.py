# MMDetection's Panoptic FPN R50 (the model of
# mmdet::panoptic_fpn/panoptic-fpn_r50_fpn_1x_coco.py) for the 6 thing + 4
# stuff classes of the synthetic set. The model is restated on MMDet's Mask
# R-CNN base rather than inherited from that config: MMEngine refuses bases
# that share a key, and the config also holds COCO data and schedule keys,
# which our synthetic dataset / schedule bases set again.
# tests/test_tools/test_benchmark_suite.py checks that it differs from MMDet's model in
# the class counts only.
_base_ = ['mmdet::_base_/models/mask-rcnn_r50_fpn.py']

num_things_classes = 6
num_stuff_classes = 4
model = dict(
    type='PanopticFPN',
    # Mask R-CNN's preprocessing, with the semantic maps padded too.
    data_preprocessor=dict(mask_pad_value=0, pad_seg=True, seg_pad_value=255),
    roi_head=dict(
        bbox_head=dict(num_classes=num_things_classes),
        mask_head=dict(num_classes=num_things_classes)),
    semantic_head=dict(
        type='PanopticFPNHead',
        num_things_classes=num_things_classes,
        num_stuff_classes=num_stuff_classes,
        in_channels=256,
        inner_channels=128,
        start_level=0,
        end_level=4,
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        conv_cfg=None,
        loss_seg=dict(
            type='CrossEntropyLoss', ignore_index=255, loss_weight=0.5)),
    panoptic_fusion_head=dict(
        type='HeuristicFusionHead',
        num_things_classes=num_things_classes,
        num_stuff_classes=num_stuff_classes),
    test_cfg=dict(
        rcnn=dict(
            score_thr=0.6,
            nms=dict(type='nms', iou_threshold=0.5, class_agnostic=True),
            max_per_img=100,
            mask_thr_binary=0.5),
        panoptic=dict(mask_overlap=0.5, stuff_area_limit=4096)))
