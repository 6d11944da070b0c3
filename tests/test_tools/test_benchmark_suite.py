"""tools/analysis_tools/benchmark_suite.py and projects/synthetic/configs/
benchmark: the report writer on small fake results (its tables and ratios,
never timings) and docs/benchmark.md, the suite's checkpoint lookup and
benchmark command, the settings the benchmark configs share with Panoptic
FCN's synthetic config, the restated MMDetection models, and every benchmark
config building a model that predicts."""
import glob
import importlib.util
import os.path as osp
import re
from pathlib import Path
from typing import Dict, List, Optional

import pytest
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmengine.config import Config
from test_configs import predict_tiny

from mmpfcn.apis.benchmark import (FIGURES, PQ_KEYS, add_ratios,
                                   resolve_config_path)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_CONFIGS = 'projects/synthetic/configs'
BENCHMARK_CONFIGS = sorted(
    glob.glob(str(REPO_ROOT / DEMO_CONFIGS / 'benchmark' / '*.py')))
PFCN_SYNTHETIC = f'{DEMO_CONFIGS}/panoptic-fcn_r18_fpn_synthetic.py'
PFCN_R50_MODEL = 'configs/_base_/models/panoptic-fcn_r50_fpn.py'
REPORT = REPO_ROOT / 'docs' / 'benchmark.md'
# What a config's training shares with Panoptic FCN's synthetic config.
SHARED_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader',
               'test_evaluator', 'train_cfg', 'optim_wrapper',
               'param_scheduler', 'default_hooks', 'log_processor')
# The only model settings the restated MMDet models may change.
CLASS_KEYS = ('num_classes', 'num_things_classes', 'num_stuff_classes',
              'class_weight', '_scope_')
RESTATED_MODELS = {
    f'{DEMO_CONFIGS}/_base_/models/panoptic-fpn_r50_fpn_synthetic.py':
    'mmdet::panoptic_fpn/panoptic-fpn_r50_fpn_1x_coco.py',
    f'{DEMO_CONFIGS}/_base_/models/mask2former_r50_synthetic.py':
    'mmdet::mask2former/mask2former_r50_8xb2-lsj-50e_coco-panoptic.py',
}


def load_suite():
    spec = importlib.util.spec_from_file_location(
        'benchmark_suite',
        REPO_ROOT / 'tools' / 'analysis_tools' / 'benchmark_suite.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


suite = load_suite()


def fake_results(part: str, e2e_ms: List[float],
                 pq: Optional[List[float]] = None,
                 checkpoints: Optional[List[Optional[str]]] = None) -> dict:
    """JSON results as benchmark.py writes them (plus the suite's own
    entry) for the part's configs, with made-up figures."""
    configs = suite.PARTS[part].configs
    checkpoints = checkpoints or [
        f'work_dirs/benchmark/{suite.config_name(c)}/iter_9.pth'
        for c in configs
    ]
    records = []
    for index, (config, ms) in enumerate(zip(configs, e2e_ms)):
        record = {key: 1000.0 * (index + 1) for key in FIGURES}
        record.update(
            name=suite.config_name(config), config=config,
            checkpoint=checkpoints[index], e2e_median_ms=ms,
            e2e_p90_ms=ms * 1.1, img_per_s=1000 / ms,
            metrics=None if pq is None else
            {key: pq[index] for key in PQ_KEYS})
        records.append(record)
    add_ratios(records)
    return dict(
        settings=dict(device='cpu', threads=2, shape=[8, 8], num_images=3,
                      warmup=1, batch_size=1, inputs='synthetic',
                      torch='2.x'),
        models=records,
        suite=dict(part=part, command=f'python benchmark.py --{part}',
                   suite_command=f'python suite.py --only {part}',
                   machine=dict(cpu='Test CPU', logical_cores=2),
                   training={suite.config_name(configs[0]):
                             dict(iters=9, max_iters=9),
                             suite.config_name(configs[1]):
                             dict(iters=5, max_iters=40)},
                   date='2000-01-01 00:00 UTC'))


def render(accuracy: Optional[dict], speed: Optional[dict]) -> str:
    """docs/benchmark.md with its measured blocks rewritten from these
    results (None for a part not run yet)."""
    return suite.update_report(REPORT.read_text(),
                               dict(accuracy=accuracy, speed=speed))


def tables(markdown: str) -> List[List[List[str]]]:
    """Every Markdown table of the text as rows of stripped cells."""
    found, current = [], []
    for line in markdown.splitlines() + ['']:
        if line.startswith('|'):
            cells = re.split(r'(?<!\\)\|', line.strip())[1:-1]
            current.append([cell.strip() for cell in cells])
        elif current:
            found.append(current)
            current = []
    return found


def test_report_has_a_well_formed_table_per_part_with_ratios():
    accuracy = fake_results('accuracy', [10.0, 20.0, 40.0],
                            pq=[50.0, 40.0, 25.0])
    speed = fake_results('speed', [100.0, 50.0, 400.0])
    markdown = render(accuracy, speed)
    found = tables(markdown)
    assert len(found) == 2
    for table, results in zip(found, (accuracy, speed)):
        header, rule, *rows = table
        assert header[0] == 'model' and 'e2e ratio' in header
        assert all(len(cell) >= 3 and set(cell) == {'-'} for cell in rule)
        assert all(len(row) == len(header) for row in table)
        assert len(rows) == len(results['models'])  # one row per model
        for row, record in zip(rows, results['models']):
            assert record['name'] in row[0]
            ratio = record['e2e_median_ms'] / results['models'][0][
                'e2e_median_ms']
            assert row[header.index('e2e ratio')] == f'{ratio:.2f}x'
    accuracy_header, _, *accuracy_rows = found[0]
    assert [row[accuracy_header.index('PQ ratio')]
            for row in accuracy_rows] == ['1.00x', '0.80x', '0.50x']
    assert [row[accuracy_header.index('PQ')]
            for row in accuracy_rows] == ['50.0', '40.0', '25.0']
    assert 'Panoptic FCN ([panoptic-fcn_r18_fpn_synthetic]' \
        f'(../{DEMO_CONFIGS}/panoptic-fcn_r18_fpn_synthetic.py))' \
        in accuracy_rows[0][0]


def test_report_gives_commands_conditions_plots_and_definitions():
    speed = fake_results('speed', [100.0, 50.0, 400.0])
    markdown = render(None, speed)
    assert 'python benchmark.py --speed' in markdown
    assert 'python suite.py --only speed' in markdown
    assert (f'python tools/train.py {DEMO_CONFIGS}/benchmark/'
            'mask2former_r50_synthetic-short.py --work-dir work_dirs/'
            'benchmark/mask2former_r50_synthetic-short --cfg-options '
            'val_cfg=None val_dataloader=None val_evaluator=None') in markdown
    assert '![speed plot](images/benchmark_speed.png)' in markdown
    assert 'Test CPU, 2 logical cores' in markdown
    assert 'torch threads: 2' in markdown
    assert '**forward**' in markdown and '**e2e**' in markdown
    # The part not run yet says how to run it; no table for it.
    assert '--only accuracy`' in markdown
    assert len(tables(markdown)) == 1
    assert markdown.count('```') % 2 == 0


def test_report_flags_random_weights_and_short_runs():
    speed = fake_results('speed', [1.0, 2.0, 3.0],
                         checkpoints=['a/iter_1.pth', None, 'c/iter_1.pth'])
    markdown = render(None, speed)
    assert '**Random weights**: panoptic-fpn_r50_fpn_synthetic-short' \
        in markdown
    assert '**Short run**: 3 image(s) per model' in markdown
    assert ('**Partly trained**: panoptic-fpn_r50_fpn_synthetic-short (5 of '
            '40 iterations) (') in markdown


def test_report_keeps_its_text_and_rewrites_only_the_measured_blocks():
    page = REPORT.read_text()
    speed = fake_results('speed', [100.0, 50.0, 400.0])
    once = suite.update_report(page, dict(speed=speed))
    assert suite.update_report(once, dict(speed=speed)) == once
    start, end = suite.block_markers(suite.PARTS['speed'])
    assert once.count(start) == once.count(end) == 1
    outside = page.split(start)[0], page.split(end)[1]
    assert (once.split(start)[0], once.split(end)[1]) == outside
    with pytest.raises(ValueError, match='benchmark:speed'):
        suite.update_report(page.replace(end, ''), dict(speed=speed))


def test_training_progress_reads_iterations_of_checkpoints():
    config = suite.PARTS['speed'].configs[0]
    assert suite.training_progress({config: 'w/iter_12.pth', 'x.py': None,
                                    'y.py': 'w/epoch_1.pth'}) == {
        suite.config_name(config): dict(iters=12, max_iters=40)}


def test_report_writes_n_a_for_missing_figures():
    speed = fake_results('speed', [1.0, 2.0, 3.0])
    speed['models'][1]['flops'] = None
    add_ratios(speed['models'])
    header, _, *rows = tables(render(None, speed))[0]
    assert rows[1][header.index('FLOPs')] == 'n/a'
    assert rows[1][header.index('FLOPs ratio')] == 'n/a'


def test_benchmark_command_of_each_part():
    accuracy = suite.PARTS['accuracy']
    checkpoints = {accuracy.configs[0]: 'w/a.pth'}
    args = suite.benchmark_args(accuracy, checkpoints, 100, 2, 2, 'out')
    assert args[:4] == [suite.BENCHMARK_TOOL,
                        f'{accuracy.configs[0]}:w/a.pth',
                        accuracy.configs[1], accuracy.configs[2]]
    text = ' '.join(args)
    assert '--shape 256 256 --num-images 100 --warmup 2 --threads 2' in text
    assert args[-1] == '--eval'
    speed = suite.benchmark_args(suite.PARTS['speed'], {}, 10, 2, 2, 'out')
    assert '--shape 800 1333' in ' '.join(speed)
    assert '--eval' not in speed


def test_find_checkpoint(tmp_path):
    config = 'configs/benchmark/x.py'
    assert suite.find_checkpoint(config, str(tmp_path)) is None
    work_dir = tmp_path / 'x'
    work_dir.mkdir()
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'iter_4.pth'))
    assert suite.find_checkpoint(config, str(tmp_path)) is None  # no file
    (work_dir / 'iter_4.pth').write_bytes(b'')
    assert suite.find_checkpoint(config, str(tmp_path)) == str(
        work_dir / 'iter_4.pth')
    # Panoptic FCN's synthetic checkpoint may also be the main job's.
    assert suite.checkpoint_dirs(PFCN_SYNTHETIC, 'w')[1] == osp.join(
        'work_dirs', 'panoptic-fcn_r18_fpn_synthetic')


def test_parts_use_every_benchmark_config():
    used = {c for part in suite.PARTS.values() for c in part.configs}
    assert all((REPO_ROOT / config).is_file() for config in used)
    assert {osp.relpath(p, REPO_ROOT) for p in BENCHMARK_CONFIGS} <= used


@pytest.mark.parametrize('config', suite.PARTS['accuracy'].configs[1:])
def test_accuracy_configs_train_like_panoptic_fcn(config):
    """Same backbone, data, loaders and training budget as Panoptic FCN's
    synthetic config."""
    reference = Config.fromfile(str(REPO_ROOT / PFCN_SYNTHETIC))
    cfg = Config.fromfile(str(REPO_ROOT / config))
    assert cfg.model.backbone == reference.model.backbone
    for key in SHARED_KEYS:
        assert cfg[key] == reference[key], key


# Model settings that give a width (channels, embedding or hidden sizes).
WIDTH_KEYS = ('in_channels', 'out_channels', 'feat_channels',
              'conv_out_channels', 'fc_out_channels', 'inner_channels',
              'embed_dims', 'feedforward_channels', 'num_feats')


# The restated MMDet model each accuracy config narrows.
NARROWED_MODELS = {
    f'{DEMO_CONFIGS}/benchmark/panoptic-fpn_r18_fpn_synthetic.py':
    f'{DEMO_CONFIGS}/_base_/models/panoptic-fpn_r50_fpn_synthetic.py',
    f'{DEMO_CONFIGS}/benchmark/mask2former_r18_synthetic.py':
    f'{DEMO_CONFIGS}/_base_/models/mask2former_r50_synthetic.py',
}


def test_every_mmdet_accuracy_config_is_checked_for_its_widths():
    assert tuple(NARROWED_MODELS) == suite.PARTS['accuracy'].configs[1:]


@pytest.mark.parametrize('config, base', NARROWED_MODELS.items())
def test_accuracy_configs_narrow_mmdets_heads_like_panoptic_fcns(
        config, base):
    """Every width of MMDet's neck and heads is divided by the factor that
    narrows Panoptic FCN's FPN from its R50 model to its synthetic config,
    so that the three models train at the same scale."""
    pfcn = Config.fromfile(str(REPO_ROOT / PFCN_SYNTHETIC)).model
    pfcn_r50 = Config.fromfile(str(REPO_ROOT / PFCN_R50_MODEL)).model
    factor = pfcn_r50.neck.out_channels // pfcn.neck.out_channels
    assert factor > 1
    ours = flatten(Config.fromfile(str(REPO_ROOT / config)).model.to_dict())
    theirs = flatten(Config.fromfile(str(REPO_ROOT / base)).model.to_dict())
    widths = {
        key: value for key, value in theirs.items()
        if key.split('.')[-1] in WIDTH_KEYS and isinstance(value, int)
        and not key.startswith('backbone.')
    }
    assert len(widths) >= 8
    assert {key: ours[key] for key in widths} == {
        key: value // factor for key, value in widths.items()}


@pytest.mark.parametrize('config', suite.PARTS['speed'].configs)
def test_speed_configs_are_r50_from_scratch_at_800(config):
    cfg = Config.fromfile(str(REPO_ROOT / config))
    assert cfg.model.backbone.depth == 50
    assert cfg.model.backbone.init_cfg is None
    resize = [step for step in cfg.test_dataloader.dataset.pipeline
              if step.type == 'Resize']
    assert [(step.scale, step.keep_ratio) for step in resize] == [
        ((1333, 800), True)]


def flatten(node, prefix: str = '') -> Dict[str, object]:
    """``{'a.b.0.c': leaf}`` of nested dicts and lists of dicts."""
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, (list, tuple)) and any(
            isinstance(item, dict) for item in node):
        items = enumerate(node)
    else:
        return {prefix: node}
    flat = {}
    for key, value in items:
        flat.update(flatten(value, f'{prefix}.{key}' if prefix else str(key)))
    return flat


@pytest.mark.parametrize('base, mmdet_config', RESTATED_MODELS.items())
def test_restated_models_are_mmdets_but_for_the_classes(base, mmdet_config):
    ours = flatten(Config.fromfile(str(REPO_ROOT / base)).model.to_dict())
    theirs = flatten(
        Config.fromfile(resolve_config_path(mmdet_config)).model.to_dict())
    differing = {
        key for key in set(ours) | set(theirs)
        if ours.get(key, 'missing') != theirs.get(key, 'missing')
    }
    assert differing
    assert all(key.split('.')[-1] in CLASS_KEYS for key in differing), \
        sorted(differing)


@pytest.mark.parametrize(
    'path', BENCHMARK_CONFIGS,
    ids=[osp.relpath(p, REPO_ROOT) for p in BENCHMARK_CONFIGS])
def test_benchmark_config_builds_and_predicts(path):
    h, w = 72, 100
    model, result = predict_tiny(path, h, w)
    fusion = model.panoptic_fusion_head
    assert fusion.num_classes == 10
    pan = result.pred_panoptic_seg.sem_seg
    assert pan.shape == (1, h, w)
    assert int((pan % INSTANCE_OFFSET).max()) <= fusion.num_classes
