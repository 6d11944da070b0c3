"""int8 quantization of an exported Panoptic FCN with onnxruntime, runner settings kept.

``static`` (calibrated, QDQ) int8 convolutions run on the CPU's int8 dot-product instructions
(AVX512-VNNI, AVX-VNNI); ``dynamic`` int8 quantizes the activations at run time, which
onnxruntime's ``ConvInteger`` does more slowly than float convolution.
"""
import json
import os
import os.path as osp
import tempfile
from typing import Dict, Iterator, List, Optional, Sequence

import cv2
import mmcv
import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                      QuantType, quantize_dynamic, quantize_static)

from mmpfcn.utils import atomic_write
from .onnx_export import METADATA_KEY
from .onnx_runner import OnnxModelError, OnnxPanopticRunner

QUANTIZATION_MODES = ('static', 'dynamic')
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def calibration_images(folder: str, num: int) -> List[str]:
    """The first ``num`` image files of ``folder``, by name."""
    if not osp.isdir(folder):
        raise OnnxModelError(f'calibration images: {folder} is not a folder')
    names = sorted(name for name in os.listdir(folder)
                   if name.lower().endswith(IMAGE_SUFFIXES))
    if not names:
        raise OnnxModelError(f'calibration images: {folder} holds no image '
                             f'({", ".join(IMAGE_SUFFIXES)})')
    return [osp.join(folder, name) for name in names[:num]]


class ImageCalibrationReader(CalibrationDataReader):
    """Graph inputs for onnxruntime's calibration: each image loaded, resized as the runner
    resizes it, and for a static export brought to the traced size."""

    def __init__(self, runner: OnnxPanopticRunner, image_files: Sequence[str]) -> None:
        self.runner = runner
        self.files: Iterator[str] = iter(image_files)

    def network_input(self, image_file: str) -> np.ndarray:
        try:
            image = mmcv.imread(image_file)
        except Exception as error:
            raise OnnxModelError(
                f'calibration image {image_file} cannot be read: {error}') from error
        if image is None:
            raise OnnxModelError(f'calibration image {image_file} is not an image file')
        if self.runner.resize is not None:
            image = self.runner.resize(dict(img=image, img_shape=image.shape[:2]))['img']
        static = self.runner.settings['input_shape']
        if static and list(image.shape[:2]) != static:
            image = cv2.resize(image, (static[1], static[0]), interpolation=cv2.INTER_LINEAR)
        return np.ascontiguousarray(image.transpose(2, 0, 1)[None])

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        image_file = next(self.files, None)
        return None if image_file is None else {'image': self.network_input(image_file)}


def early_backbone_convs(onnx_file: str, image: np.ndarray, max_stride: int) -> List[str]:
    """Names of the backbone's ``Conv`` nodes whose outputs have a stride of at most
    ``max_stride`` on the graph input ``image``, found by running the backbone's convolutions
    once (a dynamic export has no sizes to read)."""
    proto = onnx.load(onnx_file)
    convs = [node for node in proto.graph.node
             if node.op_type == 'Conv' and node.name.startswith('/backbone/')]
    proto.graph.output.extend(onnx.ValueInfoProto(name=node.output[0]) for node in convs)
    session = ort.InferenceSession(proto.SerializeToString(), providers=['CPUExecutionProvider'])
    outputs = session.run([node.output[0] for node in convs], {'image': image})
    return [node.name for node, out in zip(convs, outputs)
            if image.shape[2] <= max_stride * out.shape[2]]


def quantize_onnx(onnx_file: str, out_file: str, mode: str = 'static',
                  calib_folder: Optional[str] = None, num_calib: int = 16,
                  per_channel: bool = True, float_stride: int = 4) -> dict:
    """Write ``onnx_file`` quantized to ``out_file`` (atomically) and return its settings.

    ``static``: the convolutions become QDQ int8 (weights per channel, uint8 activations
    whose ranges come from the graph run on ``calib_folder``'s first ``num_calib``
    images); everything after them (candidate selection, fusion, masks) stays float, and so
    do the backbone's convolutions with outputs at a stride of at most ``float_stride``
    (0: none): the first layers, which int8 costs the most PQ (docs/deployment.md).
    ``dynamic``: int8 weights of convolutions and matrix products, activations quantized
    as they come.
    """
    if mode not in QUANTIZATION_MODES:
        raise OnnxModelError(f'quantization mode must be one of {QUANTIZATION_MODES}, got {mode!r}')
    if mode == 'static':
        if calib_folder is None:
            raise OnnxModelError('static quantization needs calibration images (a folder of a '
                                 'few typical images: --calib-images)')
        images = calibration_images(calib_folder, num_calib)
    runner = OnnxPanopticRunner(onnx_file, num_threads=1)
    with tempfile.TemporaryDirectory(dir=osp.dirname(osp.abspath(out_file))) as work:
        quantized = osp.join(work, 'int8.onnx')
        if mode == 'static':
            reader = ImageCalibrationReader(runner, images)
            keep_float = early_backbone_convs(onnx_file, reader.network_input(images[0]),
                                              float_stride) if float_stride else []
            quantize_static(onnx_file, quantized, reader, quant_format=QuantFormat.QDQ,
                            op_types_to_quantize=['Conv'], per_channel=per_channel,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            nodes_to_exclude=keep_float, calibrate_method=CalibrationMethod.MinMax)
        else:
            quantize_dynamic(onnx_file, quantized, weight_type=QuantType.QInt8,
                             per_channel=per_channel)
        proto = onnx.load(quantized)
    described = f'{mode} int8' + (f', backbone float up to stride {float_stride}'
                                  if mode == 'static' and float_stride else '')
    settings = dict(runner.settings, quantization=described)
    onnx.helper.set_model_props(proto, {METADATA_KEY: json.dumps(settings)})
    with atomic_write(out_file, 'wb') as f:
        f.write(proto.SerializeToString())
    return settings
