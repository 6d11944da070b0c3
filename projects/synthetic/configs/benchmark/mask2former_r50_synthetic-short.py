# MMDetection's Mask2Former R50 for the speed benchmark (docs/benchmark.md):
# no pretrained weights, a short run on the upscaled synthetic set so that
# its checkpoint makes realistic detections; tests at 800 short side.
_base_ = [
    '../_base_/models/mask2former_r50_synthetic.py',
    '../_base_/datasets/synthetic_panoptic_upscaled.py',
    '../_base_/schedules/synthetic_adamw_short.py',
]

model = dict(
    data_preprocessor=dict(
        batch_augments=[dict(_base_.batch_pad, size=_base_.image_size)]),
    backbone={{_base_.scratch_backbone}})
