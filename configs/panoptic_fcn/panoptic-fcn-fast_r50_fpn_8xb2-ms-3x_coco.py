# FAST inference thresholds on the R50 3x model.
_base_ = './panoptic-fcn_r50_fpn_8xb2-ms-3x_coco.py'
model = dict(test_cfg=dict(thing_score_thr=0.2, stuff_score_thr=0.1))
