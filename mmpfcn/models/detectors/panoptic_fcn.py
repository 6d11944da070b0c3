"""Panoptic FCN detector: wiring of backbone, FPN, encoder, kernel generator and fusion."""
from typing import Dict, Tuple

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
    """

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
        self.test_cfg = test_cfg

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
        results = self.kernel_fusion.predict(
            centers, regions, kernels, encode_feat, self.kernel_generator.embed_things,
            self.kernel_generator.embed_stuff, [s.metainfo for s in batch_data_samples],
            rescale=rescale)
        for sample, result in zip(batch_data_samples, results):
            sample.pred_panoptic_seg = result['pan_results']
            sample.pred_instances = result['ins_results']
            sample.pred_sem_seg = result['sem_results']
        return batch_data_samples

    def _forward(self, batch_inputs: Tensor, batch_data_samples: SampleList = None) -> tuple:
        """Raw head outputs and encoded feature (for complexity analysis and export)."""
        feats, encode_feat = self.extract_feat(batch_inputs)
        return (*self.kernel_generator(feats), encode_feat)
