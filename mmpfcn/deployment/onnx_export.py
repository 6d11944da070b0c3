"""Export a Panoptic FCN to ONNX, with what its runner needs stored in the file."""
import json
import os.path as osp
import tempfile
from typing import Optional, Sequence

import onnx
import torch
from torch import nn

from mmpfcn.utils import atomic_write
from .panoptic_fcn_graph import PanopticFCNGraph

# Key of the ONNX metadata entry that holds the runner's settings (JSON).
METADATA_KEY = 'mmpfcn'


def pipeline_resize(pipeline: Sequence[dict]) -> Optional[dict]:
    """The ``Resize`` step of a test pipeline (what the runner does before the graph), or
    None."""
    for step in pipeline:
        if step['type'] in ('Resize', 'mmdet.Resize'):
            return dict(type='Resize', scale=list(step['scale']),
                        keep_ratio=bool(step.get('keep_ratio', False)))
    return None


def export_onnx(model: nn.Module, out_file: str, shape: Sequence[int], dynamic: bool = False,
                opset: int = 17, dataset_meta: Optional[dict] = None,
                resize: Optional[dict] = None) -> dict:
    """Trace a ``PanopticFCN`` as a :class:`PanopticFCNGraph` on an ``(H, W)`` = ``shape``
    image and write it to ``out_file`` (atomically), checked by ``onnx.checker``.

    With ``dynamic`` the image's height and width are free; otherwise the
    file takes ``(1, 3, H, W)`` only. The file's metadata entry ``mmpfcn``
    (JSON) holds what :class:`~mmpfcn.deployment.OnnxPanopticRunner` needs:
    the class counts, the fusion head's test settings, ``dataset_meta``, the
    test pipeline's ``resize`` step and the input shape. Returns it.
    """
    model = model.eval().cpu()
    if dynamic and model.test_views:
        raise ValueError(
            'a model with test-time views (model.test_cfg.flip / extra_scales) exports with a '
            'static shape only: their resized sizes are fixed when traced; export without '
            '--dynamic-shape, or set model.test_cfg.flip=False and extra_scales=() '
            '(--cfg-options)')
    graph = PanopticFCNGraph(model).eval()
    height, width = shape
    image = torch.randint(0, 256, (1, 3, height, width), dtype=torch.uint8)
    axes = dict(masks={0: 'instances'}, labels={0: 'instances'}, scores={0: 'instances'})
    if dynamic:
        axes.update(image={2: 'height', 3: 'width'}, region={0: 'height', 1: 'width'})
        axes['masks'].update({1: 'height', 2: 'width'})
    head = model.panoptic_fusion_head
    settings = dict(
        num_things_classes=head.num_things_classes,
        num_stuff_classes=head.num_stuff_classes,
        common_stride=head.common_stride,
        test_cfg={key: head.test_cfg[key] for key in head.default_test_cfg},
        dataset_meta=dataset_meta or {},
        resize=resize,
        input_shape=None if dynamic else [height, width],
        opset=opset)
    with tempfile.TemporaryDirectory() as work, torch.no_grad():
        traced = osp.join(work, 'model.onnx')
        torch.onnx.export(graph, (image, ), traced, input_names=['image'],
                          output_names=list(graph.output_names), dynamic_axes=axes,
                          opset_version=opset, do_constant_folding=True, dynamo=False)
        proto = onnx.load(traced)
    onnx.helper.set_model_props(proto, {METADATA_KEY: json.dumps(settings)})
    onnx.checker.check_model(proto)
    with atomic_write(out_file, 'wb') as f:
        f.write(proto.SerializeToString())
    return settings
