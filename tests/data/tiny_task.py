"""A tiny linear regression task registered into MMDetection's registries.

Test-only: lets the Runner, checkpoint and ``mim`` tests train and test for
real in seconds without depending on the Panoptic FCN model. Imported through
``custom_imports`` with tests/data on ``PYTHONPATH``.
"""
from typing import Dict, List, Sequence, Union

import torch
from mmdet.registry import DATASETS, METRICS, MODELS
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from torch import nn
from torch.utils.data import Dataset

IN_FEATURES = 4


@MODELS.register_module()
class TinyRegressor(BaseModel):
    """A linear layer trained with a mean squared error."""

    def __init__(self, in_features: int = IN_FEATURES) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, 1)

    def forward(self,
                inputs: torch.Tensor,
                targets: torch.Tensor,
                mode: str = 'tensor') -> Union[Dict, List, torch.Tensor]:
        preds = self.linear(inputs)
        if mode == 'loss':
            return dict(loss_mse=((preds - targets)**2).mean())
        if mode == 'predict':
            return [
                dict(pred=pred, target=target)
                for pred, target in zip(preds, targets)
            ]
        return preds


@DATASETS.register_module()
class TinyRegressionDataset(Dataset):
    """Deterministic samples of the linear target ``sum(x) + 1``."""

    def __init__(self,
                 num_samples: int = 16,
                 in_features: int = IN_FEATURES) -> None:
        generator = torch.Generator().manual_seed(0)
        self.inputs = torch.randn(
            num_samples, in_features, generator=generator)
        self.targets = self.inputs.sum(dim=1, keepdim=True) + 1

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> Dict[str, torch.Tensor]:
        return dict(inputs=self.inputs[index], targets=self.targets[index])


@METRICS.register_module()
class TinyMSEMetric(BaseMetric):
    """Mean squared error of the predictions, under the key ``tiny/mse``."""

    default_prefix = 'tiny'

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            error = (sample['pred'] - sample['target'])**2
            self.results.append(float(error.sum()))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        return dict(mse=sum(results) / len(results))
