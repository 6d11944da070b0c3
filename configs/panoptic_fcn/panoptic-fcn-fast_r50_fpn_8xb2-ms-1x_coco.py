# FAST inference thresholds (things 0.2, stuff 0.1) on the R50 1x model: same weights, similar PQ.
_base_ = './panoptic-fcn_r50_fpn_8xb2-ms-1x_coco.py'
model = dict(test_cfg=dict(thing_score_thr=0.2, stuff_score_thr=0.1))
