"""The main job, run by ``make demo``: Panoptic FCN learns on generated data
within a time budget, on any CPU.

Stages (each timed; a finished one is recorded in ``<run>/state.json`` and
skipped when the job runs again):

1. data     - the synthetic COCO-panoptic set in ``data/synthetic`` (3000
              train / 100 val images of 256x256, always the same files:
              the dataset's own seed is fixed so every run scores the same
              val split; skipped when complete);
2. pretrain - only for a config with ``backbone_pretraining`` (the
              thing-crop recipe): ``tools/train.py`` with its ``config``;
3. train    - ``tools/train.py`` with the Panoptic FCN config, seeded
              (``randomness.seed``), resumed from its newest checkpoint if
              the job was interrupted;
4. test     - ``tools/test.py`` on the val split: PQ / SQ / RQ for All,
              Things and Stuff, and by object size (COCO's small / medium /
              large);
5. overlays - ground truth (left) and prediction (right) of a few val
              images, drawn by mmpfcn's ``PanopticVisualizer``.

Before the data and training stages a short calibration measures this
machine (rendering a few images; a few training iterations and test images
of the real model) and the job prints each stage's predicted duration. When
the training stages would not fit into ``--budget-minutes`` with the rest,
their schedule is scaled down as a whole (warm-up and decay included) and
the job says so. ``work_dirs/main_job/summary.json`` records the CPU, the
seed, the plan, the seconds of every stage and the metrics.
"""
import argparse
import copy
import glob
import hashlib
import json
import math
import os
import os.path as osp
import shutil
import subprocess
import sys
import time
from typing import Dict, List, Optional

from mmengine.config import DictAction

CONFIG_DIR = osp.join('projects', 'synthetic', 'configs')
DEFAULT_CONFIG = osp.join(CONFIG_DIR,
                          'panoptic-fcn_effnet-lite0_fpn_synthetic.py')
DEFAULT_WORK_DIR = osp.join('work_dirs', 'main_job')
# The quality bar on the default val split (percent).
QUALITY_BAR = {'PQ': 57.0, 'PQ_th': 48.0, 'PQ_st': 60.0}
ROWS = (('All', ''), ('Things', '_th'), ('Stuff', '_st'))
SIZES = ('small', 'medium', 'large')
# What a scaled-down schedule costs, as measured (docs/get_started.md).
SHORT_RUN_COST = ('expect a lower PQ: on the AVX2 class 750 instead of 1000 '
                  'iterations cost 2.0 points (56.7 -> 54.7, things 38.4 -> '
                  '35.4, seed 0; "On a slower machine" in docs/get_started.md)')
# Kept free of the budget for what calibration cannot see (a busier host,
# a slower stretch of training), as a fraction of the budget.
BUDGET_MARGIN = 0.05
# Schedules are scaled down in steps of this fraction.
SCALE_STEP = 0.05
# Seconds to build the model and draw one overlay, before measuring.
OVERLAY_START_SECONDS = 8.0


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--config',
        default=DEFAULT_CONFIG,
        help='Panoptic FCN config (default: %(default)s); a config with '
        '`backbone_pretraining` (panoptic-fcn_r18-thing-crops_fpn_synthetic.py) '
        'pretrains its backbone first')
    parser.add_argument(
        '--seed', type=int, default=0,
        help='seeds training (weights, data order, augmentation); the same '
        'seed on the same machine gives the same metrics')
    parser.add_argument(
        '--budget-minutes', type=float, default=20.0,
        help='the whole job, install included, ends within this; training '
        'is shortened to fit a slower machine (default: %(default)s)')
    parser.add_argument(
        '--work-dir', default=DEFAULT_WORK_DIR,
        help='runs go to <work-dir>/<config name>-seed<N>, the summary of '
        'the latest to <work-dir>/summary.json (default: %(default)s)')
    parser.add_argument(
        '--num-overlays', type=int, default=4, help='val images to draw')
    parser.add_argument(
        '--amp',
        choices=('auto', 'on', 'off'),
        default='auto',
        help='mixed-precision training (tools/train.py --amp: bfloat16 on a '
        'CPU); auto: on with CUDA; on a CPU with native bfloat16 the '
        'calibration times both and keeps the faster; off elsewhere')
    parser.add_argument(
        '--data-root',
        help='generate and read the synthetic set here instead of the '
        "configs' data/synthetic")
    parser.add_argument('--num-train', type=int, help='training images')
    parser.add_argument('--num-val', type=int, help='val images')
    parser.add_argument('--image-size', type=int, default=256,
                        help='image side in pixels (default: %(default)s)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default={},
        help='overrides of the config (and of the pretraining config), '
        'passed to every stage, e.g. train_dataloader.batch_size=4')
    parser.add_argument(
        '--install-seconds',
        type=float,
        default=0.0,
        help='duration of the install stage run before this script (make); '
        'it counts against the budget')
    return parser.parse_args(argv)


def run_tool(args: List[str]) -> None:
    """Run ``python tools/...`` in the repository root; its output streams
    to this terminal."""
    from projects.synthetic.synthetic_panoptic import REPO_ROOT
    command = [sys.executable] + args
    print('[main job] $ ' + ' '.join(command), flush=True)
    subprocess.run(command, cwd=REPO_ROOT, check=True)


class Clock:
    """Wall time of the job against its budget, and of each stage."""

    def __init__(self, budget_seconds: float, install_seconds: float) -> None:
        self.budget = budget_seconds
        self.start = time.perf_counter() - install_seconds
        self.seconds: Dict[str, float] = {}
        if install_seconds:
            self.seconds['install'] = install_seconds

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        return self.budget - self.elapsed()

    def run(self, name: str, what: str, action,
            predicted: Optional[float] = None):
        """Run ``action()`` as stage ``name``, printing its start (with the
        predicted seconds, if any) and its end; its result."""
        note = f' (predicted {predicted:.0f} s)' if predicted else ''
        print(f'\n[main job] === {name}: {what}{note}', flush=True)
        begin = time.perf_counter()
        result = action()
        self.seconds[name] = time.perf_counter() - begin
        print(f'[main job] === {name} done in {self.seconds[name]:.0f} s '
              f'({self.elapsed() / 60:.1f} of {self.budget / 60:.0f} min)',
              flush=True)
        return result


def config_digest(cfg) -> str:
    """A hash of the resolved config: a run folder is reused only by the
    same config."""
    return hashlib.sha256(cfg.pretty_text.encode()).hexdigest()[:16]


def open_run(run_dir: str, config: str, seed: int, cfg):
    """The :class:`JobState` of ``run_dir``, the folder of ``config`` and
    ``seed``; a folder left by another version of the config is moved aside
    (``<folder>.stale-<time>``), not deleted."""
    from projects.synthetic.synthetic_panoptic.job_state import JobState
    key = dict(config=config, seed=seed, config_digest=config_digest(cfg))
    state = JobState(osp.join(run_dir, 'state.json'), key)
    if not state.stages and osp.isdir(run_dir) and os.listdir(run_dir):
        stale = f'{run_dir}.stale-{time.strftime("%Y%m%d-%H%M%S")}'
        print(f'[main job] {run_dir} holds a run of another config version; '
              f'moved to {stale}')
        shutil.move(run_dir, stale)
    return state


def data_stage(clock: Clock, root: str, num_train: int, num_val: int,
               size: int) -> None:
    """Generate the synthetic set in ``root`` unless it is complete."""
    from projects.synthetic.synthetic_panoptic import \
        generate_synthetic_panoptic
    from projects.synthetic.synthetic_panoptic.calibration import \
        predict_generation_seconds
    from projects.synthetic.synthetic_panoptic.generator import is_complete
    if is_complete(root, num_train, num_val, size, 0):
        print(f'[main job] {root} is complete; generation skipped')
        clock.seconds['data'] = 0.0
        return
    # A process per core; a tiny set renders faster than a pool starts.
    workers = (os.cpu_count() or 1) if num_train + num_val > 100 else 1
    predicted = predict_generation_seconds(num_train + num_val, size, workers)
    clock.run('data', f'synthetic COCO panoptic set in {root}',
              lambda: generate_synthetic_panoptic(
                  root, num_train, num_val, size, workers=workers), predicted)


def data_root_options(cfg, root: str) -> Dict[str, str]:
    """Options that move ``cfg``'s datasets, and evaluator files under their
    data root, to ``root``."""
    root = osp.join(root, '')
    options = {}
    old_root = cfg.train_dataloader.dataset.get('data_root') or ''
    for split in ('train', 'val', 'test'):
        if cfg.get(f'{split}_dataloader'):
            options[f'{split}_dataloader.dataset.data_root'] = root
        evaluator = cfg.get(f'{split}_evaluator')
        for key in ('ann_file', 'seg_prefix'):
            path = evaluator.get(key) if isinstance(evaluator, dict) else None
            if old_root and isinstance(path, str) and path.startswith(old_root):
                options[f'{split}_evaluator.{key}'] = root + path[len(old_root):]
    return options


def option_strings(options: Dict[str, object]) -> List[str]:
    """``key=value`` arguments of ``--cfg-options`` for ``options``."""
    return [f'{key}={value}' for key, value in options.items()]


def training_stages(config: str, options: Dict[str, object],
                    data_root: Optional[str], run_dir: str) -> List[dict]:
    """The stages that train, in order: the backbone pretraining if the
    config has one, then the detector. Each: name, config path, loaded
    config, its ``--cfg-options`` (``options`` for the detector; both read
    ``data_root`` if given) and work dir."""
    from mmengine.config import Config

    from mmpfcn.apis import load_config
    stages = []
    for name, path, own in (('pretrain', None, {}), ('train', config,
                                                     options)):
        if name == 'pretrain':
            pretraining = Config.fromfile(config).get('backbone_pretraining')
            if not pretraining:
                continue
            path = pretraining.config
        own = dict(own)
        if data_root:
            own.update(data_root_options(Config.fromfile(path), data_root))
        stages.append(dict(name=name, config=path,
                           cfg=load_config(path, own),
                           options=option_strings(own),
                           work_dir=osp.join(run_dir, name)))
    return stages


def calibrate(stages: List[dict], amp_choice: str) -> tuple:
    """Time every training stage; with ``--amp auto`` on a CPU with native
    bfloat16, time the detector in both precisions and keep the faster
    (bfloat16 pays for wide convolutions, not for narrow heads). Returns
    the timings by stage and whether to train in bfloat16."""
    from mmpfcn.apis.benchmark import drop_pretrained
    from projects.synthetic.synthetic_panoptic.calibration import time_model
    from projects.synthetic.synthetic_panoptic.machine import (bf16_supported,
                                                               use_amp)

    def timing(stage: dict, amp: bool):
        cfg = copy.deepcopy(stage['cfg'])
        drop_pretrained(cfg.model)  # the speed does not depend on them
        return time_model(cfg, amp)

    import torch
    detector = stages[-1]
    if amp_choice == 'auto' and bf16_supported() and \
            not torch.cuda.is_available():
        both = {amp: timing(detector, amp) for amp in (True, False)}
        amp = both[True].train_iteration < both[False].train_iteration
        print('[main job] bfloat16 {:.2f} s, float32 {:.2f} s per training '
              'iteration: training in {}'.format(
                  both[True].train_iteration, both[False].train_iteration,
                  'bfloat16' if amp else 'float32'))
        timings = {detector['name']: both[amp]}
    else:
        amp = use_amp(amp_choice)
        timings = {detector['name']: timing(detector, amp)}
    for stage in stages[:-1]:
        timings[stage['name']] = timing(stage, amp)
    return timings, amp


def make_plan(stages: List[dict], amp_choice: str, clock: Clock,
              num_val: int, num_overlays: int) -> dict:
    """Calibrate the training stages and the test, and fit the training
    schedules into what the budget leaves; the plan, printed."""
    from projects.synthetic.synthetic_panoptic.calibration import \
        PROCESS_START_SECONDS
    from projects.synthetic.synthetic_panoptic.schedule import (
        config_iterations, fit_iterations)
    timings, amp = calibrate(stages, amp_choice)
    test_image = timings['train'].test_image
    test = PROCESS_START_SECONDS + num_val * test_image
    overlays = OVERLAY_START_SECONDS + num_overlays * test_image
    starts = sum(PROCESS_START_SECONDS + timing.build
                 for timing in timings.values())
    available = (clock.left() - clock.budget * BUDGET_MARGIN - test -
                 overlays - starts)
    full = {stage['name']: config_iterations(stage['cfg'])
            for stage in stages}
    full_seconds = sum(full[name] * timings[name].train_iteration
                       for name in full)
    # Scaled in whole steps, so that the timing noise of a few calibration
    # iterations rarely changes the plan (and the metrics) of a seed.
    factor = min(1.0, math.floor(available / full_seconds / SCALE_STEP) *
                 SCALE_STEP)
    plan = dict(bfloat16=amp, stages={}, scaled=factor < 1.0,
                predicted_seconds=dict(test=test, overlays=overlays))
    for stage in stages:
        name, timing = stage['name'], timings[stage['name']]
        iterations = fit_iterations(full[name], timing.train_iteration,
                                    factor * full[name] *
                                    timing.train_iteration)
        plan['stages'][name] = dict(
            config_iterations=full[name], iterations=iterations,
            seconds_per_iteration=timing.train_iteration)
        plan['predicted_seconds'][name] = (
            PROCESS_START_SECONDS + timing.build +
            iterations * timing.train_iteration)
    print(f'[main job] calibration: test {test_image:.2f} s per image; '
          + '; '.join(f'{name} {entry["seconds_per_iteration"]:.2f} s per '
                      f'iteration' for name, entry in plan['stages'].items()))
    print(f'[main job] {clock.elapsed():.0f} s spent, {clock.left():.0f} s of '
          f'the {clock.budget:.0f} s budget left; predicted: ' + ', '.join(
              f'{name} {seconds:.0f} s'
              for name, seconds in plan['predicted_seconds'].items()))
    if plan['scaled']:
        print('[main job] this machine is too slow for the full schedule in '
              f'the budget: training scaled to {factor:.0%} of it (' +
              ', '.join(f'{name} {entry["iterations"]} of '
                        f'{entry["config_iterations"]} iterations'
                        for name, entry in plan['stages'].items()) +
              f'); {SHORT_RUN_COST}', flush=True)
    return plan


def train_stage(stage: dict, plan: dict, seed: int, amp: bool,
                extra_options: List[str]) -> str:
    """Train ``stage`` for its planned iterations, resuming from the newest
    checkpoint in its work dir; the final checkpoint."""
    from mmpfcn.apis import NO_VALIDATION_OPTIONS
    from projects.synthetic.synthetic_panoptic.schedule import \
        schedule_options
    iterations = plan['stages'][stage['name']]['iterations']
    options = [f'randomness.seed={seed}'] + stage['options'] + \
        schedule_options(stage['cfg'], iterations) + extra_options
    if stage['name'] == 'train':
        options += list(NO_VALIDATION_OPTIONS)
    run_tool(['tools/train.py', stage['config'], '--work-dir',
              stage['work_dir'], '--resume'] + (['--amp'] if amp else []) +
             ['--cfg-options'] + options)
    checkpoint = osp.join(stage['work_dir'], f'iter_{iterations}.pth')
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'{stage["config"]} did not write '
                                f'{checkpoint}')
    return checkpoint


def final_losses(work_dir: str) -> Dict[str, float]:
    """The losses MMEngine logged last in ``work_dir`` (the newest run's
    ``<timestamp>/vis_data/scalars.json``): a fingerprint of the training
    run, equal for equal seeds."""
    logs = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    if not logs:
        return {}
    with open(max(logs, key=osp.getmtime)) as f:
        records = [json.loads(line) for line in f if '"loss' in line]
    return {key: value for key, value in (records[-1] if records else {}).items()
            if key.startswith('loss') or key == 'iter'}


def test_stage(stage: dict, checkpoint: str, run_dir: str) -> dict:
    """PQ of ``checkpoint`` on the val split, by tools/test.py."""
    test_dir = osp.join(run_dir, 'test')
    run_tool(['tools/test.py', stage['config'], checkpoint, '--work-dir',
              test_dir] + (['--cfg-options'] + stage['options']
                           if stage['options'] else []))
    return newest_metrics(test_dir)


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


def metrics_table(metrics: dict) -> dict:
    """PQ / SQ / RQ of All, Things and Stuff, and the by-size figures of
    ``CocoPanopticSizeMetric`` when present, from the metric's scalars."""
    table = {row: {key: metrics[f'coco_panoptic/{key}{suffix}']
                   for key in ('PQ', 'SQ', 'RQ')} for row, suffix in ROWS}
    table['by_size'] = {
        size: {key: metrics[f'coco_panoptic/{key}_{size}']
               for key in ('PQ', 'SQ', 'RQ', 'PQ_th', 'PQ_st', 'num_gt')}
        for size in SIZES if f'coco_panoptic/PQ_{size}' in metrics}
    return table


def pq_rows(metrics: dict) -> List[str]:
    """The PQ / SQ / RQ table of the metric's scalars, with a row per
    object size when the metric measured them."""
    table = metrics_table(metrics)
    lines = [f'{"":8}{"PQ":>8}{"SQ":>8}{"RQ":>8}{"PQ th":>8}{"PQ st":>8}']
    for row, _ in ROWS:
        lines.append(f'{row:8}' + ''.join(
            f'{table[row][key]:8.1f}' for key in ('PQ', 'SQ', 'RQ')))
    for size, values in table['by_size'].items():
        lines.append(f'{size:8}' + ''.join(
            f'{values[key]:8.1f}'
            for key in ('PQ', 'SQ', 'RQ', 'PQ_th', 'PQ_st')) +
            f'   ({values["num_gt"]:.0f} segments)')
    return lines


def bar_check(metrics: dict) -> Dict[str, bool]:
    """Which parts of the quality bar the metrics meet."""
    return {key: metrics['coco_panoptic/' + key] >= bar
            for key, bar in QUALITY_BAR.items()}


def run_stage(clock: Clock, state, name: str, what: str, action,
              predicted: Optional[float], outputs: List[str],
              skipped: List[str]) -> dict:
    """Stage ``name``: its recorded entry when it finished before and the
    files it names (``outputs`` keys of the entry) still exist, else the
    entry of running ``action()`` (which returns it), recorded."""
    entry = state.get(name)
    if entry is not None and all(
            osp.isfile(path) for key in outputs
            for path in ([entry[key]] if isinstance(entry[key], str)
                         else entry[key])):
        print(f'[main job] {name} finished in an earlier run; skipped')
        skipped.append(name)
        clock.seconds[name] = 0.0
        return entry
    entry = clock.run(name, what, action, predicted)
    state.finish(name, **entry)
    return entry


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    # Two cores: torch's intra-op threads use them all, data loading uses
    # one worker process. Set before torch is imported.
    os.environ.setdefault('OMP_NUM_THREADS', str(os.cpu_count() or 1))
    from projects.synthetic.synthetic_panoptic import REPO_ROOT
    from projects.synthetic.synthetic_panoptic.job_state import \
        write_json_atomic
    os.chdir(REPO_ROOT)
    clock = Clock(args.budget_minutes * 60, args.install_seconds)
    from projects.synthetic.synthetic_panoptic import (DATA_ROOT,
                                                       DEFAULT_NUM_TRAIN,
                                                       DEFAULT_NUM_VAL)
    num_val = args.num_val or DEFAULT_NUM_VAL
    data_stage(clock, args.data_root or DATA_ROOT,
               args.num_train or DEFAULT_NUM_TRAIN, num_val, args.image_size)

    from projects.synthetic.synthetic_panoptic.machine import cpu_summary
    name = osp.splitext(osp.basename(args.config))[0]
    run_dir = osp.abspath(osp.join(args.work_dir, f'{name}-seed{args.seed}'))
    stages = training_stages(args.config, args.cfg_options, args.data_root,
                             run_dir)
    detector = stages[-1]
    cfg = detector['cfg']
    state = open_run(run_dir, args.config, args.seed, cfg)
    skipped: List[str] = []
    plan = run_stage(
        clock, state, 'calibrate', 'time this machine and plan the budget',
        lambda: make_plan(stages, args.amp, clock, num_val, args.num_overlays),
        None, [], skipped)
    amp = plan['bfloat16']
    extra: List[str] = []
    for stage in stages:
        entry = run_stage(
            clock, state, stage['name'], stage['config'],
            lambda: dict(checkpoint=train_stage(stage, plan, args.seed, amp,
                                                extra),
                         final_losses=final_losses(stage['work_dir'])),
            plan['predicted_seconds'][stage['name']], ['checkpoint'], skipped)
        extra = [f'model.backbone.init_cfg.checkpoint={entry["checkpoint"]}']
    checkpoint = state.get('train')['checkpoint']
    metrics = run_stage(
        clock, state, 'test', 'PQ on the val split',
        lambda: dict(metrics=test_stage(detector, checkpoint, run_dir)),
        plan['predicted_seconds']['test'], [], skipped)['metrics']
    overlays = run_stage(
        clock, state, 'overlays', f'{args.num_overlays} val images',
        lambda: dict(paths=draw_overlays(cfg, checkpoint,
                                         osp.join(run_dir, 'overlays'),
                                         args.num_overlays)),
        plan['predicted_seconds']['overlays'], ['paths'], skipped)['paths']

    summary = dict(
        config=args.config, seed=args.seed, budget_minutes=args.budget_minutes,
        schedule_scaled=plan['scaled'], plan=plan, bfloat16=amp,
        cpu=cpu_summary(), seconds=clock.seconds,
        total_seconds=clock.elapsed(), skipped_stages=skipped,
        final_losses=state.get('train')['final_losses'],
        metrics=metrics_table(metrics), quality_bar=dict(
            QUALITY_BAR, met=bar_check(metrics)),
        run_dir=run_dir, checkpoint=checkpoint, overlays=overlays)
    for folder in (args.work_dir, run_dir):
        write_json_atomic(osp.join(folder, 'summary.json'), summary)
    lines = [
        '', '[main job] ========== summary ==========',
        f'run dir     {run_dir}', f'checkpoint  {checkpoint}',
        f'overlays    {run_dir}/overlays/ (ground truth left, prediction '
        'right)', f'summary     {osp.join(args.work_dir, "summary.json")}',
        '', 'val split:'] + pq_rows(metrics) + [
        'quality bar: ' + ', '.join(
            f'{key} {metrics["coco_panoptic/" + key]:.1f} '
            f'{">=" if met else "<"} {QUALITY_BAR[key]}'
            for key, met in bar_check(metrics).items()),
        '', 'wall time:'] + [
        f'  {name:10}{seconds:7.0f} s' for name, seconds in
        clock.seconds.items()] + [
        f'  {"total":10}{clock.elapsed():7.0f} s ({clock.elapsed() / 60:.1f} '
        f'min of {args.budget_minutes:g})']
    print('\n'.join(lines), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
