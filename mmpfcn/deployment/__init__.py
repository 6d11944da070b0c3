"""Deployment: Panoptic FCN exported whole to ONNX and run with onnxruntime."""
from .onnx_export import METADATA_KEY, export_onnx, pipeline_resize
from .onnx_panoptic_fcn import OnnxPanopticFCN
from .onnx_runner import OnnxModelError, OnnxPanopticRunner, read_settings
from .panoptic_fcn_graph import PanopticFCNGraph
from .quantization import QUANTIZATION_MODES, quantize_onnx

__all__ = [
    'METADATA_KEY', 'OnnxModelError', 'OnnxPanopticFCN', 'OnnxPanopticRunner', 'PanopticFCNGraph',
    'QUANTIZATION_MODES', 'export_onnx', 'pipeline_resize', 'quantize_onnx', 'read_settings'
]
