"""Panoptic FCN detector: wiring of backbone, FPN, encoder, kernel generator and fusion head."""
import difflib
from typing import Dict, List, Sequence, Tuple

import torch.nn.functional as F
from mmdet.models.detectors import SingleStageDetector
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from torch import Tensor

from ...utils.checkpoint_format import checkpoint_source
from ..seg_heads import KernelFusion, PanopticFCNFusionHead
from ..utils import convert_in_place, with_class_counts


@MODELS.register_module()
class PanopticFCN(SingleStageDetector):
    """Panoptic FCN (Li et al., CVPR 2021): things and stuff as generated kernels.

    ``extract_feat`` gives P2-P7 from the backbone and FPN and the stride-4
    encoded feature from ``feature_encoder``; ``kernel_generator`` runs on
    P3-P7, owns the losses and, in inference, gives the fused thing and stuff
    kernels, which ``panoptic_fusion_head`` turns into ``pred_panoptic_seg``,
    ``pred_instances`` and ``pred_sem_seg``. The detector owns no math.

    Class counts are declared here once and handed to the kernel generator and
    the fusion head. ``test_cfg`` holds every inference setting: those of
    :class:`KernelFusion` and :class:`PanopticFCNFusionHead` (their
    ``default_test_cfg`` lists the keys and the paper's values) and the
    test-time views of the position maps (the paper has none):
    ``flip=True, extra_scales=(1.25,)`` averages the centre and region logits
    over views of the batch: the batch itself, the batch resized by each
    factor of ``extra_scales`` (to a multiple of 32), and, with ``flip``, the
    horizontal mirror of each of these. A view's maps are mirrored back and
    resized bilinearly onto the batch's own level sizes. Kernels and the
    encoded feature come from the batch itself only: the coordinate channels
    of the kernel head and encoder are not mirror- or scale-invariant. Both
    default to off.
    """

    # Every view is resized to a multiple of the coarsest backbone stride.
    view_size_divisor = 32
    view_test_cfg = dict(flip=False, extra_scales=())

    def __init__(self,
                 backbone: ConfigType,
                 neck: ConfigType,
                 feature_encoder: ConfigType,
                 kernel_generator: ConfigType,
                 panoptic_fusion_head: ConfigType = dict(type='PanopticFCNFusionHead'),
                 num_things_classes: int = 80,
                 num_stuff_classes: int = 53,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super(SingleStageDetector, self).__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.train_cfg = train_cfg
        self.test_cfg = dict(test_cfg or {})
        self.check_test_cfg_keys(self.test_cfg)
        classes = dict(num_things_classes=num_things_classes, num_stuff_classes=num_stuff_classes)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck)
        self.feature_encoder = MODELS.build(feature_encoder)
        self.kernel_generator = MODELS.build({
            **with_class_counts(kernel_generator, 'model.kernel_generator', **classes),
            'train_cfg': train_cfg, 'test_cfg': self.test_cfg})
        self.panoptic_fusion_head = MODELS.build({
            **with_class_counts(panoptic_fusion_head, 'model.panoptic_fusion_head', **classes),
            'test_cfg': self.test_cfg})
        view_cfg = {**self.view_test_cfg, **self.test_cfg}
        extra_scales = tuple(view_cfg['extra_scales'])
        if any(not isinstance(scale, (int, float)) or scale <= 0 for scale in extra_scales):
            raise ValueError('PanopticFCN: test_cfg.extra_scales must be positive numbers, '
                             f'got {extra_scales}')
        flips = (False, True) if view_cfg['flip'] else (False, )
        views = [(scale, mirrored) for scale in (1.0, *extra_scales) for mirrored in flips]
        # (scale, mirrored) of every view but the first, (1.0, False): the batch itself.
        self.test_views = views[1:]

    @classmethod
    def check_test_cfg_keys(cls, test_cfg: dict) -> None:
        """Refuse a ``test_cfg`` key that no part reads, suggesting the closest known key."""
        known = sorted({*cls.view_test_cfg, *KernelFusion.default_test_cfg,
                        *PanopticFCNFusionHead.default_test_cfg})
        for key in sorted(set(test_cfg) - set(known)):
            guess = difflib.get_close_matches(key, known, n=1)
            hint = f'did you mean "{guess[0]}"? ' if guess else ''
            raise ValueError(f'PanopticFCN: unknown key model.test_cfg.{key}; {hint}'
                             f'the known keys are {known}')

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
        center_logits, region_logits, kernel_feats = self.kernel_generator(feats)
        if self.test_views:
            center_logits, region_logits = self.average_views(batch_inputs, center_logits,
                                                              region_logits)
        things, stuff = self.kernel_generator.predict_by_feat(center_logits, region_logits,
                                                              kernel_feats)
        results = self.panoptic_fusion_head.predict(things, stuff, encode_feat, region_logits,
                                                    batch_data_samples, rescale=rescale)
        return self.add_pred_to_datasample(batch_data_samples, results)

    @staticmethod
    def add_pred_to_datasample(data_samples: SampleList, results: List[dict]) -> SampleList:
        """Store the fusion head's results as the samples' ``pred_*`` fields."""
        fields = dict(pan_results='pred_panoptic_seg', ins_results='pred_instances',
                      sem_results='pred_sem_seg')
        for sample, result in zip(data_samples, results):
            for key, value in result.items():
                setattr(sample, fields[key], value)
        return data_samples

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
            # int(): a traced size is a tensor (the view sizes are fixed in an ONNX export).
            height, width = (max(1, round(int(side) * scale / divisor)) * divisor
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

    def _load_from_state_dict(self, state_dict: dict, prefix: str, local_metadata: dict,
                              strict: bool, missing_keys: List[str], unexpected_keys: List[str],
                              error_msgs: List[str]) -> None:
        """Convert an authors' (detectron2) state dict in place for this model's variant, so
        ``load_from``, ``--checkpoint``, ``init_detector`` and ``DetInferencer`` take their files
        as they are; torch and MMEngine call this with the whole state dict before the parts
        load theirs. A state dict of another variant or architecture is an error naming it."""
        target_shapes = {key: value.shape for key, value in self.state_dict().items()}
        convert_in_place(state_dict, prefix, target_shapes, checkpoint_source(local_metadata))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def _forward(self, batch_inputs: Tensor, batch_data_samples: SampleList = None) -> tuple:
        """Raw head outputs and encoded feature (for complexity analysis and export)."""
        feats, encode_feat = self.extract_feat(batch_inputs)
        return (*self.kernel_generator(feats), encode_feat)
