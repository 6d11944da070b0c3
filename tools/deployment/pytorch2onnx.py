"""Export a Panoptic FCN config and checkpoint to ONNX, the whole model in one graph.

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT --out model.onnx [--shape H W]
        [--dynamic-shape] [--opset 17] [--image IMAGE]

The graph takes a ``(1, 3, H, W)`` uint8 image in the channel order of the test pipeline
(BGR), resized as the config's test pipeline does, and holds normalisation, padding, backbone,
FPN, encoder, kernel generator, candidate selection, kernel fusion, re-scoring and the masks
(``mmpfcn.deployment.PanopticFCNGraph``); ``mmpfcn.deployment.OnnxPanopticRunner`` combines its
outputs into the panoptic map. CHECKPOINT may be an authors' detectron2 file, a URL or a Google
Drive link, converted as it loads. The file is checked with ``onnx.checker``, then run with
onnxruntime beside PyTorch on one image (``--image``, resized as the test pipeline does, or a
generated one of the export shape); the comparison is printed at the end.
"""
import argparse
import json
import time

import mmcv
import numpy as np
from mmdet.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import mmpfcn  # noqa: F401  (registers modules, installs safe loading)
from mmpfcn.apis import CfgOptionsAction
from mmpfcn.deployment import OnnxPanopticRunner, export_onnx, pipeline_resize
from mmpfcn.deployment.parity import compare_with_pytorch


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', required=True, help='the .onnx file to write')
    parser.add_argument('--shape', nargs=2, type=int, metavar=('H', 'W'),
                        help='network input size to trace at (and, without --dynamic-shape, the '
                        'only one the file takes); default: the test resize scale')
    parser.add_argument('--dynamic-shape', action='store_true',
                        help='let the image height and width vary')
    parser.add_argument('--opset', type=int, default=17, help='ONNX opset (>= 16: GridSample)')
    parser.add_argument('--image', help='image to compare PyTorch and onnxruntime on')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override settings of the config, key=value')
    args = parser.parse_args()
    if args.opset < 16:
        parser.error(f'--opset {args.opset}: the deformable convolutions need GridSample, '
                     'opset 16 or later')
    return args


def dataset_meta(cfg: Config, checkpoint: dict) -> dict:
    """The checkpoint's ``dataset_meta``, else the test dataset's metainfo."""
    meta = checkpoint.get('meta', {}).get('dataset_meta')
    if meta:
        return meta
    dataset = cfg.test_dataloader.dataset
    return {**DATASETS.get(dataset.type).METAINFO, **dataset.get('metainfo', {})}


def comparison_image(args: argparse.Namespace, runner: OnnxPanopticRunner,
                     shape) -> np.ndarray:
    """The ``--image`` resized as the test pipeline does, or a generated image of ``shape``."""
    if not args.image:
        rng = np.random.default_rng(0)
        return rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    image = mmcv.imread(args.image)
    if runner.resize is not None:
        image = runner.resize(dict(img=image, img_shape=image.shape[:2]))['img']
    return image


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    resize = pipeline_resize(cfg.test_dataloader.dataset.pipeline)
    shape = args.shape or (resize['scale'][::-1] if resize else None)
    if shape is None:
        raise SystemExit('--shape H W is needed: the test pipeline has no Resize step')
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    checkpoint = load_checkpoint(model, args.checkpoint, map_location='cpu')
    start = time.perf_counter()
    settings = export_onnx(model, args.out, shape, dynamic=args.dynamic_shape, opset=args.opset,
                           dataset_meta=dataset_meta(cfg, checkpoint), resize=resize)
    print(f'[pytorch2onnx] wrote {args.out} ({"dynamic" if args.dynamic_shape else "static"} '
          f'{shape[0]}x{shape[1]}, opset {args.opset}) in {time.perf_counter() - start:.1f} s; '
          'onnx.checker passed')
    runner = OnnxPanopticRunner(args.out)
    image = comparison_image(args, runner, settings['input_shape'] or shape)
    report = compare_with_pytorch(model, runner, image)
    print(f'[pytorch2onnx] onnxruntime vs PyTorch on a {image.shape[0]}x{image.shape[1]} image: '
          + json.dumps(report))


if __name__ == '__main__':
    main()
