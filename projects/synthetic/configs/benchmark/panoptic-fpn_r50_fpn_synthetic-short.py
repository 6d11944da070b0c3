# MMDetection's Panoptic FPN R50 for the speed benchmark (docs/benchmark.md):
# no pretrained weights, a short run on the upscaled synthetic set so that
# its checkpoint makes realistic detections; tests at 800 short side.
_base_ = [
    '../_base_/models/panoptic-fpn_r50_fpn_synthetic.py',
    '../_base_/datasets/synthetic_panoptic_upscaled.py',
    '../_base_/schedules/synthetic_adamw_short.py',
]

model = dict(backbone={{_base_.scratch_backbone}})
