"""Smoke check of the Panoptic FCN model, run by ``make smoke``.

Builds the registered model from its config with random weights (no
pretrained backbone, nothing downloaded), predicts on a generated image the
way ``mmdet.apis.inference_detector`` does and prints the panoptic segments.
Random weights make the segments meaningless; the check is that the whole
path from config to panoptic output runs.
"""
import argparse
import os.path as osp
import sys
from typing import List

import numpy as np

from projects.synthetic.synthetic_panoptic import REPO_ROOT

DEFAULT_CONFIG = osp.join(REPO_ROOT, 'configs', 'panoptic_fcn',
                          'panoptic-fcn_r50_fpn_8xb2-ms-1x_coco.py')
# Test-pipeline steps that read ground truth, which a bare image lacks.
ANNOTATION_LOADERS = ('LoadAnnotations', 'LoadPanopticAnnotations')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        'config', nargs='?', default=DEFAULT_CONFIG, help='model config')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument('--height', type=int, default=320)
    parser.add_argument('--width', type=int, default=480)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def generate_image(height: int, width: int, seed: int) -> np.ndarray:
    """A BGR uint8 image: noisy background with a few flat rectangles."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 64, size=(height, width, 3), dtype=np.uint8)
    for _ in range(4):
        y0, x0 = rng.integers(0, (height // 2, width // 2))
        h, w = rng.integers((height // 8, width // 8),
                            (height // 2, width // 2))
        image[y0:y0 + h, x0:x0 + w] = rng.integers(64, 256, size=3)
    return image


def test_pipeline_cfg(cfg) -> List[dict]:
    """The config's test pipeline, fed from an array and without steps that
    load annotations."""
    from mmdet.utils import get_test_pipeline_cfg

    pipeline = [
        step for step in get_test_pipeline_cfg(cfg)
        if step['type'].split('.')[-1] not in ANNOTATION_LOADERS
    ]
    pipeline[0] = dict(type='mmdet.LoadImageFromNDArray')
    return pipeline


def main() -> int:
    args = parse_args()
    if not osp.isfile(args.config):
        print(
            f'[demo] config {args.config} does not exist (yet?): nothing to '
            'run. Pass an existing Panoptic FCN config.',
            file=sys.stderr)
        return 1

    import torch
    from mmdet.apis import init_detector
    from mmdet.evaluation.functional import INSTANCE_OFFSET
    from mmdet.registry import DATASETS
    from mmengine.dataset import Compose, pseudo_collate

    from mmpfcn.apis import load_config

    cfg = load_config(args.config)
    cfg.model.backbone.init_cfg = None
    model = init_detector(cfg, checkpoint=None, device=args.device)
    # Replace init_detector's checkpoint-less default (COCO's 80 classes,
    # which it warns about) with the test dataset's own metainfo.
    dataset_cfg = cfg.test_dataloader.dataset
    dataset_class = DATASETS.get(dataset_cfg.type)
    model.dataset_meta = dataset_cfg.get('metainfo', dataset_class.METAINFO)

    image = generate_image(args.height, args.width, args.seed)
    data = Compose(test_pipeline_cfg(cfg))(dict(img=image, img_id=0))
    with torch.no_grad():
        result = model.test_step(pseudo_collate([data]))[0]

    classes = model.dataset_meta['classes']
    panoptic = result.pred_panoptic_seg.sem_seg[0].cpu().numpy()
    ids, areas = np.unique(panoptic, return_counts=True)
    print(f'[demo] {type(model).__name__} from {osp.relpath(args.config)} '
          f'(random weights) on a {args.height}x{args.width} image: '
          f'panoptic map {panoptic.shape[0]}x{panoptic.shape[1]}')
    for segment_id, area in zip(ids.tolist(), areas.tolist()):
        label = segment_id % INSTANCE_OFFSET
        name = classes[label] if label < len(classes) else 'void'
        print(f'  segment {segment_id:>7}  label {label:>3} {name:<24} '
              f'instance {segment_id // INSTANCE_OFFSET:>3}  area {area}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
