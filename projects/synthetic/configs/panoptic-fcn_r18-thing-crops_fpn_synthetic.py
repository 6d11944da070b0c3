# The synthetic config with its backbone pretrained on the training set's
# thing crops (thing-crop-classifier_r18_synthetic.py) instead of random: the
# main job's default. `make demo` (projects/synthetic/tools/main_job.py)
# runs the pretraining first; by hand:
#   python tools/train.py projects/synthetic/configs/thing-crop-classifier_r18_synthetic.py --amp
# then train this config. Everything is learned from the generated data.
_base_ = './panoptic-fcn_r18_fpn_synthetic.py'

backbone_pretraining = dict(
    config='projects/synthetic/configs/thing-crop-classifier_r18_synthetic.py',
    checkpoint='work_dirs/thing-crop-classifier_r18_synthetic/iter_4000.pth')
model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='Pretrained',
            prefix='backbone.',
            checkpoint=backbone_pretraining['checkpoint'])),
    # With a pretrained backbone the things gain most from a heavier centre
    # loss (4; region 5, COCO: 1 and 1), and the stuff keep their PQ only when
    # the region maps get a tower of their own instead of sharing the centre
    # maps' (docs/get_started.md, "Where it stands").
    # With the region maps in a tower of their own, the three towers at the
    # FPN's width (as in the paper; the random-backbone config: twice that)
    # make an iteration 12 % faster, and 2050 of them gave the stuff 6 more
    # points than 1800 at twice the width, from the same backbone.
    kernel_generator=dict(
        position_head=dict(feat_channels={{_base_.width}}, shared_tower=False),
        kernel_head=dict(feat_channels={{_base_.width}}),
        loss_center=dict(loss_weight=4.0),
        loss_region=dict(loss_weight=5.0)),
    test_cfg=dict(
        # With the averaged maps below, chosen on the seed-7 split: an instance
        # needs a score of 0.25 (0.2 without the views) to enter the panoptic
        # map, and a stuff segment 512 pixels (256).
        panoptic_instance_score_thr=0.25,
        stuff_area_limit=512,
        # Each stuff pixel's class weighs the finest region map's probability
        # with the masks' (the paper: the masks alone), which mixes up fewer of
        # the textures (chosen on the seed-7 split).
        region_prior_levels=1,
        # Centre and region maps averaged over the image, its mirror and both
        # at 1.25 times the size (chosen on a separate seed-7 split).
        flip=True,
        extra_scales=(1.25, )))

# 2050 iterations took as long as 1800 with the wider towers; the encoder's
# shared upsampling and the main job's 3 minutes of slack pay for 250 more,
# and the main job stays within its 25 minutes.
max_iters = 2300
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', T_max=max_iters, eta_min=1e-5, by_epoch=False,
         begin=0, end=max_iters),
]
default_hooks = dict(checkpoint=dict(interval=max_iters))
