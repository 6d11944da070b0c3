# Panoptic FCN R50 (the model of
# configs/panoptic_fcn/panoptic-fcn_r50_fpn_8xb2-ms-1x_coco.py) for the speed
# benchmark (docs/benchmark.md): no pretrained weights, a short run on the
# upscaled synthetic set so that its checkpoint makes realistic detections;
# tests at 800 short side.
_base_ = [
    '../../../../configs/_base_/models/panoptic-fcn_r50_fpn.py',
    '../_base_/datasets/synthetic_panoptic_upscaled.py',
    '../_base_/schedules/synthetic_adamw_short.py',
]

model = dict(num_things_classes=6, num_stuff_classes=4, backbone={{_base_.scratch_backbone}})
