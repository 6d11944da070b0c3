"""Issue 29: every bad config value gets a clear error, naming the key and the
value, before any work directory exists: numbers given as text anywhere in the
config, misspelt keys outside the model (loops, datasets, hooks, schedulers,
the optimizer), an FPN whose width is not the heads', counts that must be
positive, and a ``--cfg-options`` item without ``=``; in ``tools/train.py``,
``tools/test.py`` and ``DetInferencer``."""
import argparse
import importlib.util
import os.path as osp
import subprocess
import sys

import pytest
from mmdet.apis import DetInferencer
from mmdet.registry import MODELS
from mmengine.config import Config

from mmpfcn.apis import ConfigError, validate_config
from mmpfcn.apis.cli import parse_runner_args

from .conftest import CONFIG, REPO_ROOT, tiny_config, tool_command, tool_env

CASES = {
    'threshold as text': (
        {'model.test_cfg.mask_thr': '0.4'},
        "model.test_cfg.mask_thr='0.4': PanopticFCN's test_cfg takes float "
        'there, not str; write it without quotes: mask_thr=0.4'),
    'candidate threshold as text': (
        {'model.test_cfg.thing_score_thr': '0.05'},
        "model.test_cfg.thing_score_thr='0.05': PanopticFCN's test_cfg takes "
        'float there, not str; write it without quotes: thing_score_thr=0.05'),
    'target overlap as text': (
        {'model.kernel_generator.target_generator.min_overlap': '0.7'},
        "model.kernel_generator.target_generator.min_overlap='0.7': "
        'PanopticFCNTargetGenerator takes float there, not str; write it '
        'without quotes: min_overlap=0.7'),
    'learning rate as text': (
        {'optim_wrapper.optimizer.lr': '0.01'},
        "optim_wrapper.optimizer.lr='0.01': AdamW takes float | torch.Tensor "
        'there, not str; write it without quotes: lr=0.01'),
    'pipeline step argument as text': (
        {'train_dataloader.dataset.pipeline.2.prob': '0.5'},
        "train_dataloader.dataset.pipeline[2].prob='0.5': RandomFlip takes "
        'Union[float, Iterable[float], NoneType] there, not str; write it '
        'without quotes: prob=0.5'),
    'FPN narrower than the heads': (
        {'model.neck.out_channels': 16},
        'model.feature_encoder.in_channels=32 but the neck gives 16 channels '
        '(model.neck.out_channels=16); set in_channels=16 in '
        'model.feature_encoder, model.kernel_generator.position_head, '
        'model.kernel_generator.kernel_head, or out_channels=32 in model.neck'),
    'head wider than the FPN': (
        {'model.kernel_generator.kernel_head.in_channels': 64},
        'model.kernel_generator.kernel_head.in_channels=64 but the neck gives '
        '32 channels (model.neck.out_channels=32); set in_channels=32 in '),
    'misspelt loop key': (
        {'train_cfg.max_iter': 10},
        'train_cfg.max_iter: IterBasedTrainLoop has no argument "max_iter"; '
        'did you mean "max_iters"? its arguments are [\'dataloader\', '
        '\'dynamic_intervals\', \'max_iters\', \'runner\', \'val_begin\', '
        '\'val_interval\']'),
    'loop type and by_epoch': (
        {'train_cfg.by_epoch': False},
        "train_cfg.by_epoch=False next to train_cfg.type='IterBasedTrainLoop':"
        ' the runner takes one of them (by_epoch picks the loop type), so '
        'drop one'),
    'misspelt dataset key': (
        {'train_dataloader.dataset.skip_bad_sample': True},
        'train_dataloader.dataset.skip_bad_sample: CheckedCocoPanopticDataset '
        'has no argument "skip_bad_sample"; did you mean "skip_bad_samples"? '
        'its arguments are [\'ann_file\', '),
    'misspelt dataloader key': (
        {'val_dataloader.num_worker': 0},
        'val_dataloader.num_worker: DataLoader has no argument "num_worker"; '
        'did you mean "num_workers"? '),
    'misspelt checkpoint hook key': (
        {'default_hooks.checkpoint.max_keep_ckpt': 1},
        'default_hooks.checkpoint.max_keep_ckpt: SafeCheckpointHook has no '
        'argument "max_keep_ckpt"; did you mean "max_keep_ckpts"? '),
    'misspelt scheduler key': (
        {'param_scheduler': [dict(type='MultiStepLR', milestones=[2],
                                  gama=0.5)]},
        'param_scheduler[0].gama: MultiStepLR has no argument "gama"; did you '
        'mean "gamma"? '),
    'misspelt paramwise key': (
        {'optim_wrapper.paramwise_cfg':
         dict(custom_keys=dict(backbone=dict(lr_mul=0.1)))},
        'optim_wrapper.paramwise_cfg.custom_keys.backbone.lr_mul: a '
        'custom_keys entry has no argument "lr_mul"; did you mean "lr_mult"? '),
    'no instance per image': (
        {'model.test_cfg.max_per_img': 0},
        'model: KernelFusion: test_cfg.max_per_img must be a positive int, '
        'got 0'),
    'fraction of an instance per image': (
        {'model.test_cfg.max_per_img': 2.5},
        'model.test_cfg.max_per_img=2.5: PanopticFCN\'s test_cfg takes int '
        'there, not float; give a value of that type'),
}
# Configs whose every section must pass: COCO's, the synthetic demo's and an
# MMDetection model's (checked outside the model).
VALID_CONFIGS = ('configs/panoptic_fcn/panoptic-fcn_r50_fpn_8xb2-ms-1x_coco.py',
                 'projects/synthetic/configs/panoptic-fcn_r18_fpn_synthetic.py',
                 'projects/synthetic/configs/benchmark/'
                 'mask2former_r18_synthetic.py')


@pytest.mark.parametrize('case', list(CASES))
def test_bad_value_is_refused(case, generated_root, monkeypatch):
    options, message = CASES[case]
    cfg = tiny_config(generated_root, monkeypatch)
    cfg.merge_from_dict(options)
    with pytest.raises(ConfigError) as error:
        validate_config(cfg)
    assert str(error.value).startswith(message)


@pytest.mark.parametrize('path', VALID_CONFIGS)
def test_valid_config_passes(path):
    validate_config(Config.fromfile(osp.join(REPO_ROOT, path)))


@pytest.mark.parametrize('part', ['KernelFusion', 'PanopticFCNFusionHead'])
def test_part_refuses_a_count_that_is_not_positive(part):
    """Built directly (init_detector, a test), each part that reads
    ``max_per_img`` refuses 0."""
    with pytest.raises(ValueError) as error:
        MODELS.build(dict(type=part, test_cfg=dict(max_per_img=0)))
    assert str(error.value) == (
        f'{part}: test_cfg.max_per_img must be a positive int, got 0')


def test_cfg_option_without_value_is_an_argparse_error(monkeypatch, capsys):
    monkeypatch.setattr(sys, 'argv', [
        'train.py', '--cfg-options', 'train_cfg.max_iters=4',
        'model.test_cfg.mask_thr'
    ])
    with pytest.raises(SystemExit) as error:
        parse_runner_args(argparse.ArgumentParser(prog='train.py'))
    assert error.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        'train.py: error: argument --cfg-options: "model.test_cfg.mask_thr" '
        'is not a key=value pair; give the value too, e.g. '
        'model.test_cfg.mask_thr=VALUE')


def test_test_tool_refuses_before_building(generated_root, tmp_path,
                                           monkeypatch):
    """tools/test.py's own code, in this process: the checkpoint (which does
    not exist) is never reached."""
    spec = importlib.util.spec_from_file_location(
        'mmpfcn_test_tool', osp.join(REPO_ROOT, 'tools', 'test.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    monkeypatch.setenv('MMPFCN_TEST_DATA', generated_root)
    monkeypatch.setattr(sys, 'argv', [
        'test.py', CONFIG, str(tmp_path / 'missing.pth'), '--work-dir',
        str(tmp_path / 'work'), '--cfg-options', 'model.test_cfg.max_per_img=0'
    ])
    with pytest.raises(ConfigError, match='max_per_img must be a positive'):
        tool.main()
    assert not osp.exists(tmp_path / 'work')


def test_inferencer_refuses_before_building(generated_root, monkeypatch):
    cfg = tiny_config(generated_root, monkeypatch)
    cfg.model.test_cfg.mask_thr = '0.4'
    with pytest.raises(ConfigError) as error:
        DetInferencer(model=cfg, device='cpu', show_progress=False)
    assert str(error.value) == CASES['threshold as text'][1]


def test_train_tool_stops_before_the_work_dir(generated_root, tmp_path):
    """Real training processes, run side by side: on a threshold written as
    text in a config file, and on a misspelt checkpoint-hook key given on the
    command line (MMEngine would only fail at the first checkpoint)."""
    config = str(tmp_path / 'bad.py')
    with open(config, 'w') as f:
        f.write(f'_base_ = [{CONFIG!r}]\n'
                "model = dict(test_cfg=dict(mask_thr='0.4'))\n")
    runs = {
        'threshold as text': [config],
        'misspelt checkpoint hook key':
        [CONFIG, '--cfg-options', 'default_hooks.checkpoint.max_keep_ckpt=1'],
    }
    processes = {
        case: subprocess.Popen(
            tool_command('train.py', *args, '--work-dir',
                         str(tmp_path / case)),
            cwd=str(tmp_path), env=tool_env(generated_root),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for case, args in runs.items()
    }
    for case, process in processes.items():
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 1
        assert stderr.rstrip().splitlines()[-1].startswith(
            f'mmpfcn.apis.config_validation.ConfigError: {CASES[case][1]}')
        assert not osp.exists(tmp_path / case)
