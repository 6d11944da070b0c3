"""Run an exported Panoptic FCN with onnxruntime and give MMDetection's results."""
import json
import os.path as osp
from typing import Dict, Mapping, Optional, Sequence

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import torch
from google.protobuf.message import DecodeError
from mmdet.registry import TRANSFORMS
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData, PixelData
from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidGraph, InvalidProtobuf

from mmpfcn.models import PanopticFCNFusionHead
from mmpfcn.models.utils import masks_to_boxes
from .onnx_export import METADATA_KEY


class OnnxModelError(ValueError):
    """A file that is not an ONNX model exported by mmpfcn, or an input it cannot take."""


def _check_exists(onnx_file: str) -> None:
    if not osp.isfile(onnx_file):
        raise OnnxModelError(f'{onnx_file} does not exist')


def _not_onnx(onnx_file: str, error: Exception) -> OnnxModelError:
    return OnnxModelError(
        f'{onnx_file} is not an ONNX model ({type(error).__name__}: {error}); export one '
        'with tools/deployment/pytorch2onnx.py')


def _settings(metadata: Mapping[str, str], onnx_file: str) -> dict:
    """The runner settings in an export's metadata (key: value strings)."""
    if METADATA_KEY not in metadata:
        raise OnnxModelError(
            f'{onnx_file} is an ONNX model but not one exported by mmpfcn (no "{METADATA_KEY}" '
            'metadata); export it with tools/deployment/pytorch2onnx.py')
    return json.loads(metadata[METADATA_KEY])


def read_settings(onnx_file: str) -> dict:
    """The runner settings an mmpfcn export stores in ``onnx_file``, with clear errors for a
    missing file, a file that is not ONNX and an ONNX file mmpfcn did not write."""
    _check_exists(onnx_file)
    try:
        proto = onnx.load(onnx_file, load_external_data=False)
    except (DecodeError, ValueError, RuntimeError) as error:
        raise _not_onnx(onnx_file, error) from error
    return _settings({prop.key: prop.value for prop in proto.metadata_props}, onnx_file)


class OnnxPanopticRunner:
    """An exported Panoptic FCN (``tools/deployment/pytorch2onnx.py``) in onnxruntime.

    :meth:`predict` takes an image as loaded by mmcv (``(H, W, 3)`` uint8
    BGR), resizes it as the config's test pipeline did, runs the graph
    (:class:`~mmpfcn.deployment.PanopticFCNGraph`) and combines its outputs
    into the panoptic map with ``PanopticFCNFusionHead.panoptic_postprocess``,
    the eager model's own code. Results at the original size are resized from
    the network input size by nearest neighbour (the eager model resizes the
    probabilities before thresholding; the difference is confined to mask
    borders).

    Args:
        onnx_file (str): The exported model.
        num_threads (int, optional): onnxruntime's intra-op threads (default:
            its own choice, all cores).
    """

    def __init__(self, onnx_file: str, num_threads: Optional[int] = None) -> None:
        self.onnx_file = onnx_file
        _check_exists(onnx_file)
        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
        # The settings come from the session's own reading of the file (no second parse).
        try:
            self.session = ort.InferenceSession(onnx_file, options,
                                                providers=['CPUExecutionProvider'])
        except (InvalidProtobuf, InvalidGraph, Fail) as error:
            raise _not_onnx(onnx_file, error) from error
        self.settings = settings = _settings(
            self.session.get_modelmeta().custom_metadata_map, onnx_file)
        self.fusion_head = PanopticFCNFusionHead(
            num_things_classes=settings['num_things_classes'],
            num_stuff_classes=settings['num_stuff_classes'],
            common_stride=settings['common_stride'], test_cfg=settings['test_cfg'])
        resize = settings['resize']
        self.resize = TRANSFORMS.build(dict(resize, scale=tuple(resize['scale']))) if resize else None
        meta = settings['dataset_meta']
        # JSON gave lists where MMDetection's metainfo has tuples (colours must be tuples).
        self.dataset_meta = {key: [tuple(v) for v in value] if key == 'palette' else
                             tuple(value) if isinstance(value, list) else value
                             for key, value in meta.items()}

    @property
    def num_parameters(self) -> int:
        """Elements of the graph's initializers (its weights and constants)."""
        proto = onnx.load(self.onnx_file, load_external_data=False)
        return sum(int(np.prod(init.dims)) for init in proto.graph.initializer)

    def check_image(self, image: np.ndarray, name: str = 'image') -> None:
        """A clear error for an image the graph cannot take: not ``(H, W, 3)`` uint8, or, for
        a static export, not of its input size."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise OnnxModelError(f'{name}: the model takes (H, W, 3) images (3 channels, BGR), '
                                 f'got shape {tuple(image.shape)}')
        static = self.settings['input_shape']
        if static and list(image.shape[:2]) != static:
            raise OnnxModelError(
                f'{name}: {self.onnx_file} was exported for {static[0]}x{static[1]} (height x '
                f'width) network inputs, this one is {image.shape[0]}x{image.shape[1]} after the '
                'test resize; export with --dynamic-shape to take any size')

    def run(self, image: np.ndarray, name: str = 'image') -> Dict[str, np.ndarray]:
        """The graph's outputs for a network-size ``(H, W, 3)`` uint8 image (``name`` is what
        an error calls it)."""
        self.check_image(image, name)
        chw = np.ascontiguousarray(image.transpose(2, 0, 1)[None]).astype(np.uint8, copy=False)
        outputs = self.session.run(None, {'image': chw})
        return dict(zip((out.name for out in self.session.get_outputs()), outputs))

    def results(self, outputs: Dict[str, np.ndarray], out_shape: Sequence[int]) -> DetDataSample:
        """MMDetection's results of the graph's outputs, at ``out_shape`` ``(H, W)``."""
        head = self.fusion_head
        masks = torch.from_numpy(outputs['masks'])
        boxes = masks_to_boxes(masks)
        labels = torch.from_numpy(outputs['labels'])
        scores = torch.from_numpy(outputs['scores'])
        pan, segments = head.panoptic_postprocess(
            masks, boxes, labels, scores, torch.from_numpy(outputs['region']),
            torch.from_numpy(outputs['stuff_scores']))
        pan = pan.numpy()
        size = tuple(int(v) for v in out_shape)
        if pan.shape != size:
            pan = cv2.resize(pan.astype(np.int32), size[::-1], interpolation=cv2.INTER_NEAREST)
            masks = torch.from_numpy(np.stack([
                cv2.resize(m.astype(np.uint8), size[::-1], interpolation=cv2.INTER_NEAREST)
                for m in outputs['masks']]).reshape(-1, *size).astype(bool))
            boxes = masks_to_boxes(masks)
        pan = torch.from_numpy(pan.astype(np.int64))
        sample = DetDataSample()
        sample.pred_panoptic_seg = PixelData(sem_seg=pan[None],
                                             metainfo=dict(segments_info=segments))
        sample.pred_sem_seg = PixelData(sem_seg=head.semantic_postprocess(pan.clone())[None])
        sample.pred_instances = InstanceData(masks=masks, bboxes=boxes, labels=labels,
                                             scores=scores)
        return sample

    def predict(self, image: np.ndarray) -> DetDataSample:
        """Results of an original ``(H, W, 3)`` uint8 BGR image, at its size."""
        if image.ndim != 3 or image.shape[2] != 3:
            self.check_image(image)
        ori_shape = image.shape[:2]
        if self.resize is not None:
            image = self.resize(dict(img=image, img_shape=ori_shape))['img']
        sample = self.results(self.run(image), ori_shape)
        sample.set_metainfo(dict(ori_shape=ori_shape, img_shape=image.shape[:2]))
        return sample

