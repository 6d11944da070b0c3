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
"""
import os.path as osp
import tempfile
from argparse import ArgumentParser
from typing import List, Optional

import mmcv
import mmengine
from mmdet.apis import DetInferencer
from mmdet.structures import DetDataSample

import mmpfcn  # noqa: F401  (registers the components, resolves mmpfcn's model names)
from mmpfcn.apis import (ImageInputError, coco_panoptic_annotation,
                         collect_images)


def build_parser() -> ArgumentParser:
    """MMDetection's image demo options (less its text-prompt ones)."""
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('inputs', help='an image file, a folder of images or an http(s) URL')
    parser.add_argument('model', help='a config file, or a model name or alias of the metafile')
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
        inferencer = DetInferencer(args.model, args.weights, device=args.device,
                                   palette=args.palette, show_progress=False)
        # A batch at a time, so that only one batch's predictions are held.
        batches = [images[i:i + args.batch_size] for i in range(0, len(images), args.batch_size)]
        for batch in mmengine.track_iter_progress(batches):
            result = inferencer(batch, batch_size=args.batch_size, show=args.show,
                                no_save_vis=args.no_save_vis, pred_score_thr=args.pred_score_thr,
                                out_dir=args.out_dir, return_datasamples=True)
            if args.no_save_pred:
                continue
            for path, data_sample in zip(batch, result['predictions']):
                save_panoptic(data_sample, inferencer.model.dataset_meta, args.out_dir,
                              osp.splitext(osp.basename(path))[0])
    if not (args.no_save_vis and args.no_save_pred):
        print(f'results have been saved at {args.out_dir}')


if __name__ == '__main__':
    main()
