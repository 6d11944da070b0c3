"""Panoptic FCN detector: wiring of backbone, FPN, encoder, kernel generator and fusion."""
from typing import Dict, List, Sequence, Tuple

import torch.nn.functional as F
from mmdet.models.detectors import SingleStageDetector
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from torch import Tensor


@MODELS.register_module()
class PanopticFCN(SingleStageDetector):
    """Panoptic FCN (Li et al., CVPR 2021): things and stuff as generated kernels.

    ``extract_feat`` gives P2-P7 from the backbone and FPN; ``feature_encoder``
    turns P2-P5 into the stride-4 encoded feature; ``kernel_generator`` runs
    on P3-P7 and owns the losses; ``kernel_fusion`` turns its outputs into
    ``pred_panoptic_seg``, ``pred_instances`` and ``pred_sem_seg``.

    Test-time augmentation of the position maps (the paper has none):
    ``test_cfg=dict(flip=True, extra_scales=(1.25,))`` averages the centre
    and region logits over views of the batch: the batch itself, the batch
    resized by each factor of ``extra_scales`` (to a multiple of 32), and,
    with ``flip``, the horizontal mirror of each of these. A view's maps are
    mirrored back and resized bilinearly onto the batch's own level sizes.
    Kernels and the encoded feature come from the batch itself only: the
    coordinate channels of the kernel head and encoder are not mirror- or
    scale-invariant. Both default to off.
    """

    # Every view is resized to a multiple of the coarsest backbone stride.
    view_size_divisor = 32

    def __init__(self,
                 backbone: ConfigType,
                 neck: ConfigType,
                 feature_encoder: ConfigType,
                 kernel_generator: ConfigType,
                 kernel_fusion: ConfigType,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super(SingleStageDetector, self).__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck)
        self.feature_encoder = MODELS.build(feature_encoder)
        self.kernel_generator = MODELS.build(kernel_generator)
        self.kernel_fusion = MODELS.build(kernel_fusion)
        for name in ('num_things_classes', 'num_stuff_classes'):
            generated = getattr(self.kernel_generator, name)
            fused = getattr(self.kernel_fusion, name)
            if generated != fused:
                raise ValueError(f'PanopticFCN: kernel_generator.{name}={generated} but '
                                 f'kernel_fusion.{name}={fused}')
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg or {}
        unknown = set(self.test_cfg) - {'flip', 'extra_scales'}
        if unknown:
            raise ValueError(f'PanopticFCN: unknown test_cfg keys {sorted(unknown)} '
                             "(known: 'flip', 'extra_scales'; the fusion's settings belong in "
                             'kernel_fusion)')
        extra_scales = tuple(self.test_cfg.get('extra_scales', ()))
        if any(not isinstance(scale, (int, float)) or scale <= 0 for scale in extra_scales):
            raise ValueError('PanopticFCN: test_cfg.extra_scales must be positive numbers, '
                             f'got {extra_scales}')
        flips = (False, True) if self.test_cfg.get('flip', False) else (False, )
        views = [(scale, mirrored) for scale in (1.0, *extra_scales) for mirrored in flips]
        # (scale, mirrored) of every view but the first, (1.0, False): the batch itself.
        self.test_views = views[1:]

    def extract_feat(self, batch_inputs: Tensor) -> Tuple[Tuple[Tensor, ...], Tensor]:
        """FPN levels and the encoded feature."""
        feats = self.neck(self.backbone(batch_inputs))
        return feats, self.feature_encoder(feats)

    def loss(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> Dict[str, Tensor]:
        feats, encode_feat = self.extract_feat(batch_inputs)
        return self.kernel_generator.loss(feats, encode_feat, batch_data_samples)

    def predict(self, batch_inputs: Tensor, batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Fill ``pred_panoptic_seg``, ``pred_instances`` and ``pred_sem_seg`` of each sample."""
        feats, encode_feat = self.extract_feat(batch_inputs)
        centers, regions, kernels = self.kernel_generator.predict(feats, batch_data_samples)
        if self.test_views:
            centers, regions = self.average_views(batch_inputs, centers, regions)
        results = self.kernel_fusion.predict(
            centers, regions, kernels, encode_feat, self.kernel_generator.embed_things,
            self.kernel_generator.embed_stuff, [s.metainfo for s in batch_data_samples],
            rescale=rescale)
        for sample, result in zip(batch_data_samples, results):
            sample.pred_panoptic_seg = result['pan_results']
            sample.pred_instances = result['ins_results']
            sample.pred_sem_seg = result['sem_results']
        return batch_data_samples

    def average_views(self, batch_inputs: Tensor, centers: List[Tensor],
                      regions: List[Tensor]) -> Tuple[List[Tensor], List[Tensor]]:
        """Centre and region logits averaged over the batch and its ``test_views``."""
        sizes = [c.shape[-2:] for c in centers]
        for scale, mirrored in self.test_views:
            view_centers, view_regions = self.view_logits(batch_inputs, scale, mirrored, sizes)
            centers = [c + v for c, v in zip(centers, view_centers)]
            regions = [r + v for r, v in zip(regions, view_regions)]
        num_views = len(self.test_views) + 1
        return [c / num_views for c in centers], [r / num_views for r in regions]

    def view_logits(self, batch_inputs: Tensor, scale: float, mirrored: bool,
                    sizes: Sequence[Tuple[int, int]]) -> Tuple[List[Tensor], List[Tensor]]:
        """Centre and region logits of the batch resized by ``scale`` (and mirrored), mapped
        back onto the level ``sizes`` of the batch itself."""
        inputs = batch_inputs
        if scale != 1.0:
            divisor = self.view_size_divisor
            height, width = (max(1, round(side * scale / divisor)) * divisor
                             for side in inputs.shape[-2:])
            inputs = F.interpolate(inputs, size=(height, width), mode='bilinear', align_corners=False)
        if mirrored:
            inputs = inputs.flip(-1)
        centers, regions = self.kernel_generator.position_maps(self.neck(self.backbone(inputs)))

        def back(logits: Tensor, size: Tuple[int, int]) -> Tensor:
            if mirrored:
                logits = logits.flip(-1)
            if logits.shape[-2:] != size:
                logits = F.interpolate(logits, size=size, mode='bilinear', align_corners=False)
            return logits

        return ([back(c, size) for c, size in zip(centers, sizes)],
                [back(r, size) for r, size in zip(regions, sizes)])

    def _forward(self, batch_inputs: Tensor, batch_data_samples: SampleList = None) -> tuple:
        """Raw head outputs and encoded feature (for complexity analysis and export)."""
        feats, encode_feat = self.extract_feat(batch_inputs)
        return (*self.kernel_generator(feats), encode_feat)
