# Panoptic FCN R50 1x on COCO panoptic, the authors' PanopticFCN-R50-1x recipe: 90k iterations x 16
# images (8 GPUs x 2), multi-scale training 640-800 short side, test at 800 / 1333.
_base_ = [
    '../_base_/models/panoptic-fcn_r50_fpn.py',
    '../_base_/datasets/coco_panoptic_checked.py',
    '../_base_/schedules/schedule_poly_90k.py',
]
