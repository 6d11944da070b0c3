"""An exported Panoptic FCN as an MMEngine model, so that a runner tests it like the original."""
from typing import Dict, List, Optional, Union

import numpy as np
import torch
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmengine.model import BaseModel

from .onnx_runner import OnnxPanopticRunner


@MODELS.register_module()
class OnnxPanopticFCN(BaseModel):
    """Predicts with :class:`OnnxPanopticRunner` in MMEngine's test loop.

    The config's test pipeline loads and resizes the images; each one goes
    through the exported graph, and the results (at ``ori_shape``) fill the
    data samples as ``PanopticFCN.predict`` does, so the config's evaluator
    scores them. ``tools/deployment/test_onnx.py`` puts this model in a
    config in place of the original.

    Args:
        onnx_file (str): The exported model.
        num_threads (int, optional): onnxruntime's intra-op threads.
    """

    def __init__(self, onnx_file: str, num_threads: Optional[int] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.runner = OnnxPanopticRunner(onnx_file, num_threads)
        self.dataset_meta = self.runner.dataset_meta

    def forward(self, inputs: List[torch.Tensor], data_samples: Optional[SampleList] = None,
                mode: str = 'predict') -> Union[SampleList, List[Dict[str, np.ndarray]]]:
        """``predict``: the samples with their results; ``tensor``: the graph's outputs per
        image (what benchmark tools time as the network's forward)."""
        if mode == 'tensor':
            return [self.runner.run(image.permute(1, 2, 0).numpy()) for image in inputs]
        if mode != 'predict':
            raise ValueError(f'OnnxPanopticFCN predicts (mode="predict" or "tensor"), not '
                             f'"{mode}"')
        for image, sample in zip(inputs, data_samples):
            outputs = self.runner.run(image.permute(1, 2, 0).numpy(),
                                      sample.metainfo.get('img_path', 'image'))
            result = self.runner.results(outputs, sample.metainfo['ori_shape'])
            sample.pred_panoptic_seg = result.pred_panoptic_seg
            sample.pred_sem_seg = result.pred_sem_seg
            sample.pred_instances = result.pred_instances
        return data_samples
