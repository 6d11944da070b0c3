"""Stage breakdown of Panoptic FCN inference and training steps (wall time, median over iterations).

Inference times ``model.test_step`` on one batch: data preprocessing, backbone,
FPN neck, feature encoder, kernel-generator heads (position and kernel
towers) and post-processing (``KernelGenerator.predict_by_feat``: candidates
and kernel fusion; ``PanopticFCNFusionHead.predict``: mask matmul, mask
resizing, panoptic combination, result structures). Training
times ``model.train_step``: data preprocessing, backbone, neck, encoder,
heads forward, losses (with target generation), backward and optimizer step.
Stages are timed by forward hooks and method wrappers
(:class:`mmpfcn.utils.profiling.StageTimer`); the model's code is unchanged.

Data: without ``--shape`` the first ``--batch-size`` samples of the config's
train (training) or test (inference) dataset; with ``--shape H W`` random
images (and, for training, random rectangles as things on stuff bands).
Random weights give few confident detections: lower the thresholds for a
realistic post-processing load, e.g.
``--cfg-options model.test_cfg.instance_score_thr=0``, or load
``--checkpoint``. The workload (instances and panoptic segments per image;
for training ground-truth instances and the loss) is printed with the table.

Examples::

    python tools/analysis_tools/profile_panoptic_fcn.py \\
        projects/synthetic/configs/panoptic-fcn_r18_fpn_synthetic.py --mode train --threads 1
    python tools/analysis_tools/profile_panoptic_fcn.py \\
        configs/panoptic_fcn/panoptic-fcn_r50_fpn_8xb2-ms-1x_coco.py --mode infer --shape 800 1216 \\
        --threads 2 --iters 3 --warmup 1 --json profile.json --cfg-options \\
        model.test_cfg.instance_score_thr=0 model.test_cfg.panoptic_instance_score_thr=0

Shares are of the summed stage medians; ``(other)`` is the time of a stage
that none of its sub-stages covers. On CUDA every stage boundary
synchronises the device.
"""
import argparse
import json
import logging
import os.path as osp
import sys
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from mmdet.registry import DATASETS, MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmengine.structures import InstanceData, PixelData

import mmpfcn  # noqa: F401  (registers the model)
from mmpfcn.apis import CfgOptionsAction, load_config
from mmpfcn.utils.profiling import StageTimer
from tools.analysis_tools.report import format_table

# Stage names (also the keys the test checks), outermost first.
PREPROCESS = 'data preprocessing'
BACKBONE = 'backbone'
NECK = 'FPN neck'
ENCODER = 'feature encoder'
HEADS = 'kernel generator heads'
POSITION_TOWER = 'position tower'
KERNEL_TOWER = 'kernel tower'
POSTPROCESS = 'post-processing'
# Post-processing steps -> stage: public methods of the model's parts (dotted paths from the
# detector) and the mask-resizing functions as the fusion head's module calls them.
FUSION_STAGES = (
    ('kernel_generator.kernel_fusion.thing_candidates', 'thing candidates'),
    ('kernel_generator.kernel_fusion.stuff_candidates', 'stuff candidates'),
    ('kernel_generator.kernel_head.embed_things', 'kernel fusion'),
    ('kernel_generator.kernel_head.embed_stuff', 'kernel fusion'),
    ('kernel_generator.kernel_fusion.fuse_thing_kernels', 'kernel fusion'),
    ('kernel_generator.kernel_fusion.fuse_stuff_kernels', 'kernel fusion'),
    ('panoptic_fusion_head.mask_probabilities', 'mask matmul'),
    ('fusion_head_module.threshold_masks', 'mask resize'),
    ('fusion_head_module.region_argmax', 'stuff resize + argmax'),
    ('panoptic_fusion_head.panoptic_postprocess', 'panoptic combination'),
    ('panoptic_fusion_head.instance_postprocess', 'result structures'),
    ('panoptic_fusion_head.semantic_postprocess', 'result structures'),
)
TARGETS = 'target generation'
LOSSES = 'losses'
BACKWARD = 'backward'
OPTIM_STEP = 'optimizer step'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='model config file')
    parser.add_argument('--checkpoint', help='weights to load (default: random initialisation)')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='random inputs of this size instead of the config\'s dataset')
    parser.add_argument('--batch-size', type=int,
                        help='images per step (default: the config\'s train / test batch size)')
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    parser.add_argument('--device', default='cpu', help='cpu or cuda[:N]')
    parser.add_argument('--iters', type=int, default=10, help='timed iterations (after warm-up)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed iterations first')
    parser.add_argument('--mode', choices=['infer', 'train', 'both'], default='both')
    parser.add_argument('--seed', type=int, default=0, help='seed of weights and random inputs')
    parser.add_argument('--json', help='also write the results to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config keys, e.g. model.test_cfg.instance_score_thr=0')
    args = parser.parse_args(argv)
    if args.iters < 1 or args.warmup < 0:
        parser.error('--iters must be >= 1 and --warmup >= 0')
    return args


# ----------------------------------------------------------------------------- data
def random_samples(shape: Sequence[int], batch_size: int, num_things_classes: int,
                   num_stuff_classes: int, with_gt: bool, seed: int) -> dict:
    """A batch of random images; for training with stuff bands and rectangular things.

    Each image gets vertical bands of stuff classes and up to eight
    rectangles of random thing classes and sizes (from 1/16 to 1/2 of the
    shorter side) painted over them.
    """
    height, width = shape
    rng = np.random.default_rng(seed)
    inputs, samples = [], []
    for _ in range(batch_size):
        inputs.append(torch.from_numpy(rng.integers(0, 256, (3, height, width), dtype=np.uint8)))
        sample = DetDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width),
                                             scale_factor=(1.0, 1.0)))
        if with_gt:
            sem = np.empty((height, width), np.int64)
            bands = np.linspace(0, width, num_stuff_classes + 1).astype(int)
            for k in range(num_stuff_classes):
                sem[:, bands[k]:bands[k + 1]] = num_things_classes + k
            short = min(height, width)
            masks, boxes, labels = [], [], []
            for _ in range(8 if num_things_classes else 0):
                h, w = rng.integers(max(short // 16, 2), short // 2 + 1, 2)
                y, x = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
                mask = np.zeros((height, width), np.uint8)
                mask[y:y + h, x:x + w] = 1
                sem[y:y + h, x:x + w] = label = int(rng.integers(num_things_classes))
                masks.append(mask)
                boxes.append([x, y, x + w, y + h])
                labels.append(label)
            for i, mask in enumerate(masks):  # later rectangles occlude earlier ones
                for later in masks[i + 1:]:
                    mask &= 1 - later
            sample.gt_instances = InstanceData(
                masks=BitmapMasks(np.array(masks, np.uint8).reshape(-1, height, width), height, width),
                bboxes=HorizontalBoxes(torch.tensor(boxes, dtype=torch.float).reshape(-1, 4)),
                labels=torch.tensor(labels, dtype=torch.long))
            sample.gt_sem_seg = PixelData(sem_seg=torch.from_numpy(sem)[None])
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def dataset_samples(cfg: Config, train: bool, batch_size: int) -> dict:
    """The first ``batch_size`` samples of the config's train or test dataset."""
    loader = cfg.train_dataloader if train else cfg.test_dataloader
    try:
        dataset = DATASETS.build(loader.dataset)
    except Exception as error:  # missing files, most often
        raise SystemExit(f'profile_panoptic_fcn: cannot build the {"train" if train else "test"} '
                         f'dataset of the config ({type(error).__name__}: {error}); '
                         'use --shape H W for random inputs') from error
    if len(dataset) < batch_size:
        raise SystemExit(f'profile_panoptic_fcn: the dataset has {len(dataset)} samples, '
                         f'fewer than --batch-size {batch_size}')
    return pseudo_collate([dataset[i] for i in range(batch_size)])


# ---------------------------------------------------------------------------- model
def build_model(cfg: Config, checkpoint: Optional[str], device: torch.device) -> torch.nn.Module:
    """The config's model with random (initialised) or loaded weights."""
    init_cfg = cfg.model.backbone.get('init_cfg')
    if checkpoint is None and init_cfg and init_cfg.get('type') == 'Pretrained':
        cfg.model.backbone.init_cfg = None  # random weights need no download
    model = MODELS.build(cfg.model)
    if checkpoint is None:
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel(logging.WARNING)  # not the per-parameter initialisation report
        try:
            model.init_weights()
        finally:
            logger.setLevel(level)
    else:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    return model.to(device)


def attach_network(timer: StageTimer, model: torch.nn.Module) -> None:
    """Stages of the network both steps share."""
    timer.time_module(model.data_preprocessor, PREPROCESS)
    timer.time_module(model.backbone, BACKBONE)
    timer.time_module(model.neck, NECK)
    timer.time_module(model.feature_encoder, ENCODER)
    head = model.kernel_generator
    timer.time_module(head, HEADS)
    timer.time_module(head.position_head, POSITION_TOWER)
    timer.time_module(head.kernel_head, KERNEL_TOWER)


def attach_inference(timer: StageTimer, model: torch.nn.Module) -> None:
    attach_network(timer, model)
    timer.time_attribute(model.kernel_generator, 'predict_by_feat', POSTPROCESS)
    timer.time_attribute(model.panoptic_fusion_head, 'predict', POSTPROCESS)
    owners = dict(fusion_head_module=sys.modules[type(model.panoptic_fusion_head).__module__])
    for path, stage in FUSION_STAGES:
        first, *names, attr = path.split('.')
        owner = owners.get(first) or getattr(model, first)
        for name in names:
            owner = getattr(owner, name)
        timer.time_attribute(owner, attr, stage)


def attach_training(timer: StageTimer, model: torch.nn.Module, optim_wrapper) -> None:
    attach_network(timer, model)
    head = model.kernel_generator
    timer.time_attribute(head, 'loss_by_feat', LOSSES)
    timer.time_attribute(head, 'target_generator', TARGETS)
    timer.time_attribute(optim_wrapper, 'backward', BACKWARD)
    timer.time_attribute(optim_wrapper, 'step', OPTIM_STEP)
    timer.time_attribute(optim_wrapper, 'zero_grad', OPTIM_STEP)


# -------------------------------------------------------------------------- running
def profile_inference(model, data: dict, device: torch.device, iters: int, warmup: int) -> dict:
    model.eval()
    timer = StageTimer(device)
    attach_inference(timer, model)
    try:
        with torch.no_grad():
            for _ in range(warmup + iters):
                with timer.iteration():
                    results = model.test_step(data)
    finally:
        timer.detach()
    void = model.panoptic_fusion_head.num_classes
    segments = [len(set(torch.unique(r.pred_panoptic_seg.sem_seg).tolist()) - {void}) for r in results]
    workload = dict(instances_per_image=float(np.mean([len(r.pred_instances) for r in results])),
                    segments_per_image=float(np.mean(segments)))
    return dict(stages=timer.summary(warmup), workload=workload)


def profile_training(model, optim_wrapper, data: dict, device: torch.device, iters: int,
                     warmup: int) -> dict:
    model.train()
    timer = StageTimer(device)
    attach_training(timer, model, optim_wrapper)
    try:
        for _ in range(warmup + iters):
            with timer.iteration():
                log_vars = model.train_step(data, optim_wrapper)
    finally:
        timer.detach()
    instances = [len(s.gt_instances) for s in data['data_samples']]
    return dict(stages=timer.summary(warmup),
                workload=dict(gt_instances_per_image=float(np.mean(instances)),
                              loss=float(torch.as_tensor(log_vars['loss']).detach())))


def stage_table(rows: Sequence[dict]) -> str:
    """The rows of :meth:`StageTimer.summary` as a table, each stage
    indented under its parent."""
    return format_table(['stage', 'median ms', 'mean ms', '%'], [[
        '  ' * row['depth'] + row['name'], f'{row["median_ms"]:.2f}',
        f'{row["mean_ms"]:.2f}', f'{row["percent"]:.1f}'
    ] for row in rows])


def describe(name: str, cfg_file: str, shape: Sequence[int], batch_size: int, args) -> str:
    source = f'random {shape[0]}x{shape[1]}' if args.shape else 'dataset samples'
    return (f'{name}: {osp.basename(cfg_file)}, {source}, batch {batch_size}, '
            f'{args.threads} thread(s), {args.device}, median of {args.iters} after {args.warmup} warm-up')


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, dict]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cfg = load_config(args.config, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    results: Dict[str, dict] = {}
    # Inference first: the training steps change the weights.
    for mode in ('infer', 'train'):
        if args.mode not in (mode, 'both'):
            continue
        train = mode == 'train'
        loader = cfg.train_dataloader if train else cfg.test_dataloader
        batch_size = args.batch_size or loader.batch_size
        torch.manual_seed(args.seed)
        model = build_model(cfg, args.checkpoint, device)
        if args.shape:
            data = random_samples(args.shape, batch_size, cfg.model.num_things_classes,
                                  cfg.model.num_stuff_classes,
                                  with_gt=train, seed=args.seed)
        else:
            data = dataset_samples(cfg, train, batch_size)
        shape = tuple(data['inputs'][0].shape[-2:])
        if train:
            optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
            result = profile_training(model, optim_wrapper, data, device, args.iters, args.warmup)
        else:
            result = profile_inference(model, data, device, args.iters, args.warmup)
        result['setup'] = dict(config=args.config, shape=list(shape), batch_size=batch_size,
                               threads=args.threads, device=str(device), iters=args.iters,
                               warmup=args.warmup, checkpoint=args.checkpoint, random_inputs=bool(args.shape))
        title = describe('inference' if not train else 'training step', args.config, shape, batch_size, args)
        print(f'{title}\n{stage_table(result["stages"])}')
        print('workload: ' + ', '.join(f'{k} {v:.4g}' for k, v in result['workload'].items()) + '\n')
        results[mode] = result
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == '__main__':
    main(sys.argv[1:])
