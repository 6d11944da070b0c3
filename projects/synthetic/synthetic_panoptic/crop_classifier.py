"""A backbone with a linear classifier on its pooled last feature map: the
model of the thing-crop pretraining."""
from typing import Dict, List, Optional, Union

import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from torch import Tensor, nn


@MODELS.register_module()
class CropClassifier(BaseModel):
    """Classify image crops, one label per crop, with a detector's backbone.

    Trained on :class:`ThingCropDataset`, the backbone
    learns the thing classes before a detector is trained with it: the
    checkpoint's ``backbone.*`` weights load into the detector's backbone
    with ``init_cfg=dict(type='Pretrained', prefix='backbone.', ...)``.
    Labels come from each sample's ``gt_instances.labels`` (one instance, as
    :class:`mmdet.datasets.transforms.PackDetInputs` packs a crop);
    ``mode='predict'`` returns them in ``pred_instances`` (``labels`` and
    the softmax ``scores`` of every class).

    Args:
        backbone (dict): The backbone, as in the detector's config.
        num_classes (int): Number of classes.
        in_channels (int): Channels of the backbone's last output.
        data_preprocessor (dict, optional): Normalisation and batching.
        init_cfg (dict, optional): Initialisation of the whole model.
    """

    def __init__(self,
                 backbone: ConfigType,
                 num_classes: int,
                 in_channels: int,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.fc = nn.Linear(in_channels, num_classes)

    def extract_feat(self, inputs: Tensor) -> Tensor:
        """Global average of the backbone's last feature map, ``(N, C)``."""
        return self.backbone(inputs)[-1].mean(dim=(2, 3))

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List[DetDataSample]] = None,
                mode: str = 'tensor'
                ) -> Union[Dict[str, Tensor], List[DetDataSample], Tensor]:
        logits = self.fc(self.extract_feat(inputs)).float()
        if mode == 'tensor':
            return logits
        if mode == 'loss':
            labels = torch.cat([s.gt_instances.labels for s in data_samples])
            return dict(
                loss_cls=F.cross_entropy(logits, labels),
                acc=(logits.argmax(1) == labels).float().mean().detach() * 100)
        if mode == 'predict':
            scores = logits.softmax(dim=1)
            for sample, score in zip(data_samples, scores):
                sample.pred_instances = InstanceData(
                    labels=score.argmax()[None], scores=score[None])
            return data_samples
        raise ValueError(f'CropClassifier: unknown mode "{mode}"')
