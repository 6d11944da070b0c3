"""tools/analysis_tools/benchmark.py on two tiny configs (a Panoptic FCN and
MMDetection's Panoptic FPN) at 64x96, one warm-up and two timed images; and
with ``--eval`` on a generated synthetic set. Outputs and their form are
checked, never timings."""
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List

import matplotlib.image
import pytest
import torch

from mmpfcn.apis.benchmark import (FIGURES, PQ_KEYS, ModelSpec, build_model,
                                   load_model_config)
from projects.synthetic.synthetic_panoptic import generate_synthetic_panoptic

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOL = 'tools/analysis_tools/benchmark.py'
PFCN = 'tests/data/benchmark/tiny_panoptic_fcn.py'
PFPN = 'tests/data/benchmark/tiny_panoptic_fpn.py'
TINY = ['--shape', '64', '96', '--warmup', '1', '--threads', '1']
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def benchmark(args: List[str]) -> str:
    """Run the tool with one thread; its stdout."""
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, TOOL] + TINY + args, cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc.stdout


def table_rows(stdout: str) -> List[str]:
    """The model rows of the printed table (below its ``| --- |`` rule)."""
    lines = stdout.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith('| ---'))
    return [line for line in lines[rule + 1:] if line.startswith('| ')]


@pytest.fixture(scope='module')
def two_models(tmp_path_factory):
    """(stdout, JSON, PNG path) of a run on both tiny configs."""
    work_dir = tmp_path_factory.mktemp('benchmark')
    stdout = benchmark([PFCN, PFPN, '--num-images', '2', '--work-dir',
                        str(work_dir)])
    with open(work_dir / 'benchmark.json') as f:
        return stdout, json.load(f), work_dir / 'benchmark.png'


def test_json_has_every_figure_per_model(two_models):
    _, results, _ = two_models
    assert results['settings']['threads'] == 1
    assert results['settings']['shape'] == [64, 96]
    models = results['models']
    assert [m['name'] for m in models] == ['tiny_panoptic_fcn',
                                           'tiny_panoptic_fpn']
    for model in models:
        assert all(model[key] > 0 for key in FIGURES), model
        assert model['forward_p90_ms'] >= model['forward_median_ms']
        assert model['e2e_p90_ms'] >= model['e2e_median_ms']
        assert model['flops_input_shape'] == [1, 3, 64, 96]
        assert model['num_images'] == 2 and model['metrics'] is None
        assert set(model['ratios']) == set(FIGURES)
    assert all(ratio == 1.0 for ratio in models[0]['ratios'].values())
    assert models[1]['ratios']['params'] == pytest.approx(
        models[1]['params'] / models[0]['params'])


def test_table_has_a_row_per_model(two_models):
    stdout, _, _ = two_models
    assert 'device: cpu, threads: 1' in stdout
    rows = table_rows(stdout)
    assert [row.split()[1] for row in rows] == ['tiny_panoptic_fcn',
                                                'tiny_panoptic_fpn']
    assert rows[0].count('(1.00x)') == len(FIGURES)


def test_plot_is_a_png(two_models):
    _, _, png = two_models
    assert png.read_bytes()[:8] == PNG_MAGIC
    height, width, channels = matplotlib.image.imread(str(png)).shape
    assert height > 100 and width > 100 and channels in (3, 4)


def test_eval_reports_pq_on_the_test_split(tmp_path):
    root = tmp_path / 'synthetic'
    generate_synthetic_panoptic(str(root), num_train=2, num_val=3, size=64,
                                seed=0)
    out_json = tmp_path / 'out.json'
    stdout = benchmark([PFCN, '--num-images', '3', '--eval', '--data-root',
                        str(root), '--out-json', str(out_json), '--out-png',
                        str(tmp_path / 'out.png')])
    assert len(table_rows(stdout)) == 1 and '| PQ_st' in stdout
    model = json.loads(out_json.read_text())['models'][0]
    assert model['num_images'] == 3
    assert set(model['metrics']) == set(PQ_KEYS)
    assert all(0 <= value <= 100 for value in model['metrics'].values())
    assert (tmp_path / 'out.png').read_bytes()[:8] == PNG_MAGIC


def test_model_spec_splits_config_and_checkpoint():
    spec = ModelSpec.parse('mmdet::panoptic_fpn/x.py:work_dirs/a:b.pth')
    assert spec == ModelSpec('mmdet::panoptic_fpn/x.py', 'work_dirs/a:b.pth')
    assert spec.name == 'x'
    assert ModelSpec.parse('configs/y.py').checkpoint is None
    with pytest.raises(ValueError):
        ModelSpec.parse('configs/y.pth')


def test_load_config_applies_options_and_data_root_without_pretrained():
    cfg = load_model_config(
        'mmdet::mask2former/mask2former_r50_8xb2-lsj-50e_coco-panoptic.py',
        cfg_options={'model.test_cfg.max_per_image': 7},
        data_root='/data/elsewhere')
    assert cfg.model.backbone.init_cfg is None
    assert cfg.model.test_cfg.max_per_image == 7
    assert cfg.test_dataloader.dataset.data_root == '/data/elsewhere/'
    # Both metrics (panoptic and instance) move with the data root.
    assert [metric.ann_file for metric in cfg.test_evaluator] == [
        '/data/elsewhere/annotations/panoptic_val2017.json',
        '/data/elsewhere/annotations/instances_val2017.json'
    ]


def test_channels_last_model_has_nhwc_weights_and_the_same_outputs():
    """``--channels-last`` converts every 4-d weight (the deformable
    convolutions' too); the prediction does not change."""
    cfg = load_model_config(PFCN)
    torch.manual_seed(0)
    default = build_model(cfg, None, 'cpu')
    nhwc = build_model(cfg, None, 'cpu', channels_last=True)
    nhwc.load_state_dict(default.state_dict())
    weights = [p for p in nhwc.parameters() if p.dim() == 4]
    assert weights and all(
        p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
        for p in weights if p.shape[2:] != (1, 1))
    inputs = torch.rand(1, 3, 64, 96) * 255
    with torch.no_grad():
        expected, actual = default(inputs, mode='tensor'), nhwc(inputs, mode='tensor')
    flat = [torch.as_tensor(t) for t in torch.utils._pytree.tree_leaves(expected)]
    got = [torch.as_tensor(t) for t in torch.utils._pytree.tree_leaves(actual)]
    assert len(flat) == len(got) > 0
    for want, have in zip(flat, got):
        torch.testing.assert_close(have, want, rtol=1e-4, atol=1e-4)
