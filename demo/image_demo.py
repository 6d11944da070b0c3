"""Panoptic FCN on images, with MMDetection's ``demo/image_demo.py`` interface.

Runs ``mmdet.apis.DetInferencer`` on an image, a folder of images or an image
URL and writes, per image ``<name>.<ext>``, into ``--out-dir``:

- ``vis/<name>.<ext>``: the overlay (DetInferencer's own output);
- ``panoptic/<name>.png``: the segment ids 1..N (void 0) as panopticapi's
  ``id2rgb`` colours;
- ``panoptic/<name>.json``: ``{"file_name", "segments_info"}`` in COCO
  panoptic form, with the dataset's category ids, areas, boxes and scores.

docs/inference.md describes the files. Examples::

    python demo/image_demo.py photo.jpg configs/panoptic_fcn/panoptic-fcn_r50_fpn_1x_coco.py \\
        --weights panoptic_fcn_r50_1x.pth --device cpu
    python demo/image_demo.py photos/ panoptic-fcn_r50_fpn_1x_coco --batch-size 4
    python demo/image_demo.py photo.jpg model.onnx --backend onnxruntime

With ``--backend onnxruntime`` the model is a file exported by
``tools/deployment/pytorch2onnx.py``, run by ``mmpfcn.deployment.OnnxPanopticRunner``
(docs/deployment.md), and the files written are the same.
"""
import os.path as osp
import tempfile
from argparse import ArgumentParser, Namespace
from typing import Callable, List, Optional, Tuple

import mmcv
import mmengine
from mmdet.apis import DetInferencer
from mmdet.registry import VISUALIZERS
from mmdet.structures import DetDataSample

import mmpfcn  # noqa: F401  (registers the components, resolves mmpfcn's model names)
from mmpfcn.apis import (ImageInputError, coco_panoptic_annotation,
                         collect_images)


def build_parser() -> ArgumentParser:
    """MMDetection's image demo options (less its text-prompt ones)."""
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('inputs', help='an image file, a folder of images or an http(s) URL')
    parser.add_argument('model', help='a config file, or a model name or alias of the metafile; '
                        'with --backend onnxruntime, an exported .onnx file')
    parser.add_argument('--backend', default='pytorch', choices=['pytorch', 'onnxruntime'],
                        help='run the PyTorch model (DetInferencer) or an exported ONNX file')
    parser.add_argument('--weights', default=None,
                        help='a checkpoint: path, http(s) URL or Google Drive link, MMDetection '
                        "or the authors' format; without it a model name loads its metafile "
                        "weights and a config's model keeps random weights")
    parser.add_argument('--out-dir', default='outputs', help='where the outputs go')
    parser.add_argument('--device', default=None,
                        help='e.g. cpu or cuda:0; the default picks what is available')
    parser.add_argument('--pred-score-thr', type=float, default=0.3,
                        help='minimum score of a drawn instance')
    parser.add_argument('--batch-size', type=int, default=1, help='images per forward pass')
    parser.add_argument('--show', action='store_true', help='display each overlay in a window')
    parser.add_argument('--no-save-vis', action='store_true', help='do not write the overlays')
    parser.add_argument('--no-save-pred', action='store_true',
                        help='do not write the panoptic PNGs and JSONs')
    parser.add_argument('--palette', default='none',
                        choices=['coco', 'voc', 'citys', 'random', 'none'],
                        help="overlay colours; 'none' keeps the config's or the checkpoint's")
    return parser


def save_panoptic(data_sample: DetDataSample, dataset_meta: dict, out_dir: str, name: str) -> None:
    """Write ``panoptic/<name>.png`` and ``panoptic/<name>.json`` of one prediction."""
    png, annotation = coco_panoptic_annotation(data_sample, dataset_meta, f'{name}.png')
    mmcv.imwrite(png[..., ::-1], osp.join(out_dir, 'panoptic', f'{name}.png'))
    mmengine.dump(annotation, osp.join(out_dir, 'panoptic', f'{name}.json'), indent=2)


Predictor = Callable[[List[str]], Tuple[List[DetDataSample], dict]]


def pytorch_predictor(args: Namespace) -> Predictor:
    """Predictions of a batch of image paths by ``DetInferencer``, which also draws and writes
    the overlays."""
    inferencer = DetInferencer(args.model, args.weights, device=args.device,
                               palette=args.palette, show_progress=False)

    def predict(batch: List[str]) -> Tuple[List[DetDataSample], dict]:
        result = inferencer(batch, batch_size=args.batch_size, show=args.show,
                            no_save_vis=args.no_save_vis, pred_score_thr=args.pred_score_thr,
                            out_dir=args.out_dir, return_datasamples=True)
        return result['predictions'], inferencer.model.dataset_meta

    return predict


def onnxruntime_predictor(args: Namespace) -> Predictor:
    """Predictions of a batch of image paths by an exported model in onnxruntime, with the
    overlays drawn as ``DetInferencer`` draws them."""
    from mmpfcn.deployment import OnnxModelError, OnnxPanopticRunner
    try:
        runner = OnnxPanopticRunner(args.model)
    except OnnxModelError as error:
        raise SystemExit(f'error: {error}')
    visualizer = VISUALIZERS.build(dict(type='PanopticVisualizer', name='onnx_demo'))
    visualizer.dataset_meta = runner.dataset_meta

    def predict(batch: List[str]) -> Tuple[List[DetDataSample], dict]:
        samples = []
        for path in batch:
            image = mmcv.imread(path)
            if image is None:
                raise SystemExit(f'error: cannot decode image {path}')
            sample = runner.predict(image)
            samples.append(sample)
            if not args.no_save_vis or args.show:
                out_file = None if args.no_save_vis else osp.join(
                    args.out_dir, 'vis', osp.basename(path))
                visualizer.add_datasample(osp.basename(path), image[..., ::-1], sample,
                                          draw_gt=False, show=args.show,
                                          pred_score_thr=args.pred_score_thr,
                                          out_file=out_file)
        return samples, runner.dataset_meta

    return predict


def main(argv: Optional[List[str]] = None) -> None:
    """Check the inputs, then predict a batch at a time and write the files."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error(f'--batch-size must be at least 1, got {args.batch_size}')
    with tempfile.TemporaryDirectory() as download_dir:
        try:
            images = collect_images(args.inputs, download_dir)
        except ImageInputError as error:
            parser.error(str(error))
        predict = (onnxruntime_predictor(args) if args.backend == 'onnxruntime' else
                   pytorch_predictor(args))
        # A batch at a time, so that only one batch's predictions are held.
        batches = [images[i:i + args.batch_size] for i in range(0, len(images), args.batch_size)]
        for batch in mmengine.track_iter_progress(batches):
            samples, dataset_meta = predict(batch)
            if args.no_save_pred:
                continue
            for path, data_sample in zip(batch, samples):
                save_panoptic(data_sample, dataset_meta, args.out_dir,
                              osp.splitext(osp.basename(path))[0])
    if not (args.no_save_vis and args.no_save_pred):
        print(f'results have been saved at {args.out_dir}')


if __name__ == '__main__':
    main()
