# The synthetic config with its backbone pretrained on the training set's
# thing crops (thing-crop-classifier_r18_synthetic.py) instead of random: the
# main job's default. `make demo` (tools/main_job.py) runs the pretraining
# first; by hand:
#   python tools/train.py configs/pretraining/thing-crop-classifier_r18_synthetic.py --amp
# then train this config. Everything is learned from the generated data.
_base_ = './panoptic-fcn_r18_fpn_synthetic.py'

backbone_pretraining = dict(
    config='configs/pretraining/thing-crop-classifier_r18_synthetic.py',
    checkpoint='work_dirs/thing-crop-classifier_r18_synthetic/iter_4000.pth')
model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='Pretrained',
            prefix='backbone.',
            checkpoint=backbone_pretraining['checkpoint'])))
