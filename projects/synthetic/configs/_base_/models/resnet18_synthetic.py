# The backbone of every model trained on the synthetic set: ResNet-18 at half
# width (base_channels 32: stages of 32, 64, 128, 256 channels) with GroupNorm,
# pytorch style, trained from scratch. Use it as
# `backbone={{_base_.synthetic_backbone}}` and give the neck / head
# `in_channels={{_base_.synthetic_backbone_channels}}`.
synthetic_norm_cfg = dict(type='GN', num_groups=16, requires_grad=True)
synthetic_backbone = dict(
    type='ResNet',
    depth=18,
    base_channels=32,
    num_stages=4,
    out_indices=(0, 1, 2, 3),
    frozen_stages=-1,
    norm_cfg=synthetic_norm_cfg,
    norm_eval=False,
    style='pytorch',
    init_cfg=None)
synthetic_backbone_channels = [32, 64, 128, 256]
