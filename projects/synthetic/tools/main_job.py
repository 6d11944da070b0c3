"""The main job, run by ``make demo``: Panoptic FCN learns on generated data.

Stages (each timed by :class:`mmpfcn.utils.profiling.StageTimer`):

1. data     - generate the synthetic COCO-panoptic set in ``data/synthetic``
              (3000 train / 100 val images of 256x256, rendered by one
              process per core; skipped when present);
2. pretrain - when the config has ``backbone_pretraining`` (the default
              config does): ``tools/train.py`` with its ``config``, a
              classifier of the training set's thing crops, whose backbone
              the detector's ``init_cfg`` loads from its ``checkpoint``
              (skipped when the checkpoint exists and the data was not
              just generated);
3. train    - ``tools/train.py`` with the Panoptic FCN config (MMEngine log
              lines with the ETA);
4. test     - ``tools/test.py`` on the val split: MMDet's PQ / SQ / RQ table
              for All, Things and Stuff;
5. overlays - ground truth (left) and prediction (right) of a few val
              images, drawn into PNGs by mmpfcn's ``PanopticVisualizer`` (MMDet's
              ``DetLocalVisualizer``, extended to maps with no segment).

Finally prints where the work dir, checkpoint, metrics and overlays are and
the wall time of every stage. ``make demo`` runs the install before this
script and passes its duration with ``--install-seconds``.
"""
import argparse
import copy
import glob
import json
import os
import os.path as osp
import subprocess
import sys
from contextlib import contextmanager
from typing import Callable, ContextManager, Dict, Iterator, List, Optional

CONFIG_DIR = osp.join('projects', 'synthetic', 'configs')
DEFAULT_CONFIG = osp.join(CONFIG_DIR,
                          'panoptic-fcn_r18-thing-crops_fpn_synthetic.py')
# The quality bar on the default val split (percent).
QUALITY_BAR = {'PQ': 55.0, 'PQ_th': 45.0, 'PQ_st': 55.0}
ROWS = (('All', ''), ('Things', '_th'), ('Stuff', '_st'))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--config',
        default=DEFAULT_CONFIG,
        help='Panoptic FCN config (default: %(default)s); the pretrain stage '
        'runs when it has `backbone_pretraining`, so '
        f'{CONFIG_DIR}/panoptic-fcn_r18_fpn_synthetic.py trains from a '
        'random backbone without it')
    parser.add_argument(
        '--work-dir',
        help='default: work_dirs/<config name> under the repository root')
    parser.add_argument(
        '--num-overlays', type=int, default=4, help='val images to draw')
    parser.add_argument(
        '--amp',
        choices=('auto', 'on', 'off'),
        default='auto',
        help='mixed-precision training (tools/train.py --amp: bfloat16 on a '
        'CPU); auto: on with CUDA or a CPU with bfloat16 instructions')
    parser.add_argument(
        '--install-seconds',
        type=float,
        help='duration of the install stage run before this script (make)')
    return parser.parse_args(argv)


def run_tool(args: List[str]) -> None:
    """Run ``python tools/...`` in the repository root; its output streams
    to this terminal."""
    from projects.synthetic.synthetic_panoptic import REPO_ROOT
    command = [sys.executable] + args
    print('[main job] $ ' + ' '.join(command), flush=True)
    subprocess.run(command, cwd=REPO_ROOT, check=True)


def use_amp(choice: str) -> bool:
    """Whether to train with ``--amp``. On this project's 2-core CPU
    (AVX512-BF16) bfloat16 trains the synthetic config 1.3x faster than
    float32 with the same PQ (11.1 vs 10.0 after 1000 iterations); CPUs
    without bfloat16 instructions would emulate it, slower."""
    import torch
    if choice != 'auto':
        return choice == 'on'
    return torch.cuda.is_available() or (
        torch.backends.mkldnn.is_available()
        and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def pretrain_backbone(pretraining: dict, amp: List[str],
                      new_data: bool) -> None:
    """Train ``pretraining['config']`` into the folder of
    ``pretraining['checkpoint']``, unless that checkpoint exists and was
    trained on the data present (``new_data`` is False)."""
    checkpoint = pretraining['checkpoint']
    if osp.exists(checkpoint) and not new_data:
        print(f'[main job] {checkpoint} exists; pretraining skipped')
        return
    run_tool(['tools/train.py', pretraining['config'], '--work-dir',
              osp.dirname(checkpoint)] + amp)
    if not osp.exists(checkpoint):
        raise FileNotFoundError(
            f'{pretraining["config"]} did not write {checkpoint}, the '
            'checkpoint backbone_pretraining.checkpoint names: do its '
            'max_iters and checkpoint interval match that file name?')


def last_checkpoint(work_dir: str) -> str:
    """The checkpoint MMEngine's CheckpointHook recorded last."""
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def newest_metrics(work_dir: str) -> dict:
    """Metrics of the newest run in ``work_dir`` (MMEngine writes a test
    run's metrics to ``<work_dir>/<timestamp>/<timestamp>.json``)."""
    files = [
        path for path in glob.glob(osp.join(work_dir, '*', '*.json'))
        if osp.basename(osp.dirname(path)) == osp.splitext(
            osp.basename(path))[0]
    ]
    if not files:
        raise FileNotFoundError(f'no metrics json in {work_dir}/<timestamp>')
    with open(max(files, key=osp.getmtime)) as f:
        return json.load(f)


def pq_rows(metrics: dict) -> List[str]:
    """The PQ / SQ / RQ table of CocoPanopticMetric's scalars."""
    lines = [f'{"":8}{"PQ":>8}{"SQ":>8}{"RQ":>8}']
    for row, suffix in ROWS:
        values = [metrics[f'coco_panoptic/{key}{suffix}'] for key in
                  ('PQ', 'SQ', 'RQ')]
        lines.append(f'{row:8}' + ''.join(f'{v:8.1f}' for v in values))
    return lines


def bar_check(metrics: dict) -> List[str]:
    """Which parts of the quality bar the metrics meet."""
    return [
        f'{key} {metrics["coco_panoptic/" + key]:.1f} '
        f'{">=" if metrics["coco_panoptic/" + key] >= bar else "<"} {bar}'
        for key, bar in QUALITY_BAR.items()
    ]


def gt_panoptic_map(data_info: dict, num_classes: int):
    """MMDet's panoptic encoding of a COCO panoptic PNG: stuff ``label``,
    thing ``label + k * INSTANCE_OFFSET`` (k from 1), void ``num_classes``."""
    import mmcv
    import numpy as np
    from mmdet.evaluation.functional import INSTANCE_OFFSET
    from panopticapi.utils import rgb2id

    ids = rgb2id(mmcv.imread(data_info['seg_map_path'], channel_order='rgb'))
    pan = np.full(ids.shape, num_classes, dtype=np.int64)
    instance = 0
    for segment in data_info['segments_info']:
        value = segment['category']
        if segment['is_thing']:
            instance += 1
            value += instance * INSTANCE_OFFSET
        pan[ids == segment['id']] = value
    return pan


def draw_overlays(cfg, checkpoint: str, out_dir: str,
                  num_images: int) -> List[str]:
    """Draw ground truth | prediction panoptic maps of the first test images.

    The model is built from the config ``cfg`` (an mmengine ``Config``) with
    the weights of ``checkpoint``; the images go through the config's test
    dataset and pipeline, as in ``tools/test.py``.
    """
    import mmcv
    import torch
    from mmdet.apis import init_detector
    from mmdet.registry import DATASETS, VISUALIZERS
    from mmdet.structures import DetDataSample
    from mmengine.dataset import pseudo_collate
    from mmengine.structures import PixelData

    import mmpfcn  # noqa: F401  (registers the model, safe loading)

    model = init_detector(copy.deepcopy(cfg), checkpoint, device='cpu')
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    visualizer = VISUALIZERS.build(
        dict(type='PanopticVisualizer', name='mmpfcn_main_job_overlays'))
    visualizer.dataset_meta = dataset.metainfo
    num_classes = len(dataset.metainfo['classes'])
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for index in range(min(num_images, len(dataset))):
        info = dataset.get_data_info(index)
        with torch.no_grad():
            pred = model.test_step(pseudo_collate([dataset[index]]))[0]
        sample = DetDataSample(
            gt_panoptic_seg=PixelData(
                sem_seg=gt_panoptic_map(info, num_classes)[None]),
            pred_panoptic_seg=PixelData(
                sem_seg=pred.pred_panoptic_seg.sem_seg.cpu().numpy()))
        path = osp.join(out_dir, osp.basename(info['img_path']))
        visualizer.add_datasample(
            osp.basename(path),
            mmcv.imread(info['img_path'], channel_order='rgb'),
            data_sample=sample,
            out_file=path)
        paths.append(path)
    return paths


def run_job(args: argparse.Namespace,
            stage: Callable[[str, str], ContextManager]) -> List[str]:
    """Run the stages, each inside ``stage(name, what)``; the summary lines
    of what they wrote and scored."""
    from projects.synthetic.synthetic_panoptic import (
        DATA_ROOT, DEFAULT_NUM_TRAIN, DEFAULT_NUM_VAL,
        generate_synthetic_panoptic)
    name = osp.splitext(osp.basename(args.config))[0]
    work_dir = osp.abspath(args.work_dir or osp.join('work_dirs', name))

    with stage('data', f'synthetic COCO panoptic set in {DATA_ROOT}'):
        new_data = generate_synthetic_panoptic(
            DATA_ROOT, workers=os.cpu_count() or 1)
        if new_data:
            print(f'[main job] wrote {DEFAULT_NUM_TRAIN} train + '
                  f'{DEFAULT_NUM_VAL} val images to {DATA_ROOT}')
        else:
            print(f'[main job] {DATA_ROOT} is complete; generation skipped')

    from mmpfcn.apis import NO_VALIDATION_OPTIONS, load_config
    cfg = load_config(args.config)
    amp = ['--amp'] if use_amp(args.amp) else []
    pretraining = cfg.get('backbone_pretraining')
    if pretraining:
        with stage('pretrain', f'the backbone with {pretraining.config}'):
            pretrain_backbone(pretraining, amp, new_data)

    with stage('train', args.config):
        run_tool(['tools/train.py', args.config, '--work-dir', work_dir] +
                 amp + ['--cfg-options', *NO_VALIDATION_OPTIONS])
    checkpoint = last_checkpoint(work_dir)

    with stage('test', 'PQ on the val split'):
        run_tool(['tools/test.py', args.config, checkpoint, '--work-dir',
                  work_dir])
    metrics = newest_metrics(work_dir)

    overlay_dir = osp.join(work_dir, 'overlays')
    with stage('overlays', f'{args.num_overlays} val images'):
        overlays = draw_overlays(cfg, checkpoint, overlay_dir,
                                 args.num_overlays)

    summary = [
        '', '[main job] ========== summary ==========',
        f'work dir    {work_dir}', f'checkpoint  {checkpoint}',
        f'train log   {work_dir}/<timestamp>/<timestamp>.log',
    ] + ([f'backbone    {pretraining["checkpoint"]} (pretrained on thing '
          'crops)'] if pretraining else []) + [
        f'overlays    {overlay_dir}/ (ground truth left, prediction right)'
    ] + [f'            {path}' for path in overlays]
    summary += ['', 'val split:'] + pq_rows(metrics)
    return summary + ['quality bar: ' + ', '.join(bar_check(metrics))]


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    # Two cores: torch's intra-op threads use them all, data loading uses
    # one worker process; OpenCV threads are off (MMEngine's env_cfg). Set
    # before torch is imported, whose OpenMP reads it when it loads.
    os.environ.setdefault('OMP_NUM_THREADS', str(os.cpu_count() or 1))
    from mmpfcn.utils.profiling import StageTimer
    from projects.synthetic.synthetic_panoptic import REPO_ROOT
    os.chdir(REPO_ROOT)
    seconds: Dict[str, float] = {}
    if args.install_seconds is not None:
        seconds['install'] = args.install_seconds
    timer = StageTimer()

    @contextmanager
    def stage(name: str, what: str) -> Iterator[None]:
        """A stage of ``timer``, printed as it starts and ends; its wall
        time also goes to ``seconds``."""
        print(f'\n[main job] === {name}: {what}', flush=True)
        with timer.stage(name):
            yield
        seconds[name] = timer.elapsed(name)
        print(f'[main job] === {name} done in {seconds[name]:.0f} s',
              flush=True)

    with timer.iteration():
        summary = run_job(args, stage)

    total = sum(seconds.values())
    summary += ['', 'wall time:']
    summary += [f'  {stage:9}{sec:7.0f} s' for stage, sec in seconds.items()]
    summary.append(f'  {"total":9}{total:7.0f} s ({total / 60:.1f} min)')
    print('\n'.join(summary), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
