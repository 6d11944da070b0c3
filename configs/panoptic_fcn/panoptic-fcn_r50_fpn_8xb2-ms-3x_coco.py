# Panoptic FCN R50 3x: the 1x recipe for 270k iterations.
_base_ = [
    '../_base_/models/panoptic-fcn_r50_fpn.py',
    '../_base_/datasets/coco_panoptic_checked.py',
    '../_base_/schedules/schedule_poly_270k.py',
]
