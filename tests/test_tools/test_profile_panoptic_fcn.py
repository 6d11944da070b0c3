"""tools/analysis_tools/profile_panoptic_fcn.py and the StageTimer it uses (structure only: no
assertion depends on how long anything takes)."""
import importlib.util
import json
import os.path as osp

import pytest
import torch
from torch import nn

from mmpfcn.utils import profiling
from mmpfcn.utils.profiling import StageTimer

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'analysis_tools', 'profile_panoptic_fcn.py')
TINY_CONFIG = osp.join(ROOT, 'tests', 'data', 'configs', 'tiny_panoptic_fcn.py')


def load_tool():
    spec = importlib.util.spec_from_file_location('profile_panoptic_fcn', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


class FakeClock:
    """A ``perf_counter`` that only moves when the test says so."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_stage_timer_nests_stages_and_reports_the_uncovered_rest(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(profiling.time, 'perf_counter', clock)
    timer = StageTimer()

    class Conv(nn.Module):
        def forward(self, x):
            clock.now += 0.001
            return x

    conv = Conv()
    timer.time_module(conv, 'conv')

    class Owner:
        def work(self, x):
            clock.now += 0.002
            return conv(x)

    owner = Owner()
    timer.time_attribute(owner, 'work', 'work')
    for extra in (0.0, 0.010, 0.004):  # iteration totals 4, 14 and 8 ms
        with timer.iteration():
            owner.work(torch.zeros(1))
            with timer.stage('tail'):
                clock.now += 0.001
            clock.now += extra
            # What the main job reports at the end of each of its stages.
            assert timer.elapsed('tail') == pytest.approx(0.001)
            assert timer.elapsed('work') == pytest.approx(0.003)
    timer.detach()
    assert 'work' not in vars(owner) and not conv._forward_pre_hooks
    rows = {r['path']: r for r in timer.summary(warmup=1)}
    assert list(rows) == ['total', 'work', 'work/conv', 'work/(other)', 'tail', '(other)']
    assert rows['total']['median_ms'] == pytest.approx(11.0)
    assert rows['work']['median_ms'] == pytest.approx(3.0)
    assert rows['work/conv']['median_ms'] == pytest.approx(1.0)
    assert rows['work/(other)']['median_ms'] == pytest.approx(2.0)
    assert rows['(other)']['median_ms'] == pytest.approx(7.0)
    top = [r for r in rows.values() if r['depth'] == 1]
    assert sum(r['percent'] for r in top) == pytest.approx(100.0)
    assert rows['work/conv']['percent'] + rows['work/(other)']['percent'] == pytest.approx(
        rows['work']['percent'])
    table = load_tool().stage_table(list(rows.values()))
    assert '|     (other) ' in table  # indented under its stage
    with pytest.raises(ValueError, match='no iterations after 3 warm-up'):
        timer.summary(warmup=3)


def check_breakdown(stages, names):
    paths = {r['path'] for r in stages}
    found = {r['name'] for r in stages}
    assert set(names) <= found, set(names) - found
    top = [r for r in stages if r['depth'] == 1]
    assert sum(r['percent'] for r in top) == pytest.approx(100.0, abs=1e-6)
    for row in stages:
        children = [
            r for r in stages
            if r['depth'] == row['depth'] + 1 and r['path'].rsplit('/', 1)[0] == row['path']
        ]
        if children and row['depth']:
            assert sum(c['percent'] for c in children) == pytest.approx(row['percent'], abs=1e-6)
    return paths


@pytest.fixture
def keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)  # the tool sets --threads for the whole process


def test_profile_tool_reports_every_stage_of_inference_and_training(tmp_path, capsys, keep_threads):
    tool = load_tool()
    out = tmp_path / 'profile.json'
    results = tool.main([
        TINY_CONFIG, '--shape', '64', '96', '--batch-size', '2', '--iters', '2', '--warmup', '1',
        '--mode', 'both', '--json', str(out), '--cfg-options', 'model.test_cfg.instance_score_thr=0'
    ])
    assert set(results) == {'infer', 'train'}
    assert json.loads(out.read_text()) == json.loads(json.dumps(results))

    fusion_stages = {stage for _, stage in tool.FUSION_STAGES}
    infer = check_breakdown(results['infer']['stages'], [
        tool.PREPROCESS, tool.BACKBONE, tool.NECK, tool.ENCODER, tool.HEADS, tool.POSITION_TOWER,
        tool.KERNEL_TOWER, tool.POSTPROCESS, *fusion_stages
    ])
    assert f'{tool.HEADS}/{tool.POSITION_TOWER}' in infer
    assert {f'{tool.POSTPROCESS}/{stage}' for stage in fusion_stages} <= infer
    assert results['infer']['workload']['instances_per_image'] > 0

    train = check_breakdown(results['train']['stages'], [
        tool.PREPROCESS, tool.BACKBONE, tool.NECK, tool.ENCODER, tool.HEADS, tool.LOSSES,
        tool.TARGETS, tool.BACKWARD, tool.OPTIM_STEP
    ])
    assert f'{tool.LOSSES}/{tool.TARGETS}' in train
    assert results['train']['setup']['batch_size'] == 2
    printed = capsys.readouterr().out
    assert 'inference: tiny_panoptic_fcn.py, random 64x96, batch 2' in printed
    assert 'training step: tiny_panoptic_fcn.py' in printed
