# Panoptic FCN R50 on Mapillary Vistas v1.2 panoptic, the paper's Table 13 model (34.8 PQ). Not yet
# reproduced here (docs/model_zoo.md).
# The authors' Mapillary settings (their answer to a user; no config was released): 150k
# iterations of 32 images (8 GPUs x 4), 1024x1024 crops that keep an object in view from images
# with the short side at 1024-2048 (configs/_base_/datasets/mapillary_vistas_panoptic.py), SGD
# 0.02, gradient clipping by value 15; 3 positives per object, instance scales twice COCO's, and
# at inference up to 200 things above 0.2, stuff above 0.1, masks at 0.5, kernel fusion at 0.95.
# The 37 thing and 28 stuff classes; the stuff branch has one extra channel for all things.
_base_ = [
    '../_base_/models/panoptic-fcn_r50_fpn.py',
    '../_base_/datasets/mapillary_vistas_panoptic.py',
    '../_base_/schedules/schedule_poly_90k.py',
]

model = dict(
    num_things_classes=37,
    num_stuff_classes=28,
    kernel_generator=dict(
        num_positives=3,
        target_generator=dict(
            instance_scales=((1, 128), (64, 256), (128, 512), (256, 1024), (512, 4096)))),
    test_cfg=dict(
        max_per_img=200,
        thing_score_thr=0.2,
        stuff_score_thr=0.1,
        mask_thr=0.5,
        similarity_thr=0.95))

max_iters = 150000
train_cfg = dict(max_iters=max_iters)
optim_wrapper = dict(optimizer=dict(lr=0.02), clip_grad=dict(clip_value=15.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=max_iters),
]
auto_scale_lr = dict(base_batch_size=32)
