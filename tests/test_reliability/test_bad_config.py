"""Issue 7.4: a bad configuration gets a clear error naming the key: unknown
or misspelt keys of the model's sections and of its test_cfg, class counts that
disagree between model and dataset, thresholds outside [0, 1], scale ranges
that do not cover the FPN levels."""
import importlib.util
import os.path as osp
import sys

import pytest

from mmpfcn.apis import ConfigError, validate_config

from .conftest import CONFIG, REPO_ROOT, run_tool, tiny_config

THING_CLASSES = "('circle', 'square', 'triangle', 'star', 'ring', 'cross')"
TEST_CFG_KEYS = (
    "['center_pool_sizes', 'class_specific', 'extra_scales', 'flip', 'instance_on', "
    "'instance_score_thr', 'mask_thr', 'max_per_img', 'overlap_thr', "
    "'panoptic_instance_score_thr', 'panoptic_on', 'region_prior_levels', 'semantic_on', "
    "'similarity_thr', 'stuff_area_limit', 'stuff_score_thr', 'thing_score_thr']")
SCALES = 'model.kernel_generator.target_generator.instance_scales'

CASES = {
    'misspelt nested key': (
        ['model.kernel_generator.target_generator.min_overlp=0.7'],
        ConfigError,
        'model.kernel_generator.target_generator.min_overlp: '
        'PanopticFCNTargetGenerator has no argument "min_overlp"; did you '
        'mean "min_overlap"? its arguments are [\'common_stride\', '
        '\'gaussian_sigma\', \'ignore_index\', \'instance_scales\', '
        '\'min_overlap\', \'num_stuff_classes\', \'num_things_classes\']'),
    'unknown section': (
        ['model.panoptic_fusoin_head.type=PanopticFCNFusionHead'],
        ConfigError,
        'model.panoptic_fusoin_head: PanopticFCN has no argument "panoptic_fusoin_head"; '
        'did you mean "panoptic_fusion_head"? its arguments are [\'backbone\', '
        '\'data_preprocessor\', \'feature_encoder\', \'init_cfg\', '
        '\'kernel_generator\', \'neck\', \'num_stuff_classes\', \'num_things_classes\', '
        '\'panoptic_fusion_head\', \'test_cfg\', \'train_cfg\']'),
    'misspelt test_cfg key': (
        ['model.test_cfg.mask_trh=0.5'],
        ConfigError,
        'PanopticFCN: unknown key model.test_cfg.mask_trh; did you mean "mask_thr"? the known '
        f'keys are {TEST_CFG_KEYS}'),
    'class count given twice': (
        ['model.kernel_generator.num_things_classes=5'],
        ConfigError,
        'model.kernel_generator.num_things_classes=5 disagrees with num_things_classes=6 of '
        'the model; declare class counts once, as model.num_things_classes'),
    'misspelt loss key': (
        ['model.kernel_generator.loss_center.gama=2.0'],
        ConfigError,
        'model.kernel_generator.loss_center.gama: FocalLoss has no argument '
        '"gama"; did you mean "gamma"? its arguments are [\'activated\', '
        '\'alpha\', \'gamma\', \'loss_weight\', \'reduction\', '
        '\'use_sigmoid\']'),
    'class count vs dataset': (
        ['model.num_things_classes=5'],
        ConfigError,
        'model.num_things_classes=5 but '
        f'train_dataloader.dataset has 6 thing_classes {THING_CLASSES}'),
    'stuff count vs dataset': (
        ['model.num_stuff_classes=53'],
        ConfigError,
        'model.num_stuff_classes=53 but '
        'train_dataloader.dataset has 4 stuff_classes (\'stripes\', '
        '\'checker\', \'dots\', \'noise\')'),
    'fusion threshold above 1': (
        ['model.test_cfg.mask_thr=1.5'],
        ValueError,
        'PanopticFCNFusionHead: test_cfg.mask_thr must be in [0, 1], got 1.5'),
    'candidate threshold below 0': (
        ['model.test_cfg.thing_score_thr=-0.1'],
        ValueError,
        'KernelFusion: test_cfg.thing_score_thr must be in [0, 1], got -0.1'),
    'target overlap above 1': (
        ['model.kernel_generator.target_generator.min_overlap=1.5'],
        ValueError,
        'PanopticFCNTargetGenerator: min_overlap must be in [0, 1], got 1.5'),
    'fewer scale ranges than levels': (
        [f'{SCALES}="((1, 64), (32, 128), (64, 256), (128, 512))"'],
        ConfigError,
        f'{SCALES} has 4 entries for the 5 FPN levels of '
        'model.kernel_generator.in_indices=(1, 2, 3, 4, 5): give one per '
        'level'),
    'gap between scale ranges': (
        [f'{SCALES}="((1, 64), (96, 128), (64, 256), (128, 512), '
         '(256, 2048))"'],
        ConfigError,
        f'{SCALES}: instances of size 64 to 96 (between ranges 0 and 1) fall '
        'on no FPN level; the ranges must overlap or touch'),
    'empty scale range': (
        [f'{SCALES}="((1, 64), (32, 128), (256, 64), (128, 512), '
         '(256, 2048))"'],
        ConfigError,
        f'{SCALES}[2]=(256, 64) is empty'),
    'level beyond the neck': (
        ['model.neck.num_outs=5'],
        ConfigError,
        'model.kernel_generator.in_indices=(1, 2, 3, 4, 5) but the neck has '
        'only 5 levels (model.neck.num_outs)'),
    'centre pools vs levels': (
        ['model.test_cfg.center_pool_sizes="(3, 3, 5)"'],
        ConfigError,
        'model.test_cfg.center_pool_sizes has 3 entries for the 5 FPN '
        'levels of model.kernel_generator.in_indices=(1, 2, 3, 4, 5): give '
        'one per level'),
}


def load_train_tool():
    """tools/train.py as a module."""
    spec = importlib.util.spec_from_file_location(
        'mmpfcn_train_tool', osp.join(REPO_ROOT, 'tools', 'train.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('case', list(CASES))
def test_bad_config_is_refused_by_train_tool(case, generated_root, tmp_path,
                                             monkeypatch):
    """tools/train.py's own code, in this process, on each bad setting."""
    options, error_type, message = CASES[case]
    monkeypatch.setenv('MMPFCN_TEST_DATA', generated_root)
    monkeypatch.setattr(sys, 'argv', [
        'train.py', CONFIG, '--work-dir',
        str(tmp_path / 'work'), '--cfg-options', *options
    ])
    with pytest.raises(error_type) as error:
        load_train_tool().main()
    assert str(error.value).endswith(message)


def test_section_without_type_is_refused(generated_root, monkeypatch):
    """A section written without ``type`` replaces the default (which has
    one) instead of updating it."""
    cfg = tiny_config(generated_root, monkeypatch)
    del cfg.model.kernel_generator.loss_stuff_mask['type']
    with pytest.raises(ConfigError) as error:
        validate_config(cfg)
    assert str(error.value) == (
        'model.kernel_generator.loss_stuff_mask has no "type": a section '
        "replaces KernelGenerator's default {'type': 'WeightedDiceLoss', "
        "'loss_weight': 3.0} instead of updating it, so give the whole "
        'section')


def test_bad_config_message_reaches_the_user(generated_root, tmp_path):
    """A real training process stops before training and prints the key."""
    result = run_tool(
        'train.py', CONFIG, '--work-dir', str(tmp_path / 'work'),
        '--cfg-options', 'model.test_cfg.mask_trh=0.5',
        data_root=generated_root, cwd=str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.rstrip().splitlines()[-1] == (
        'mmpfcn.apis.config_validation.ConfigError: PanopticFCN: unknown key '
        'model.test_cfg.mask_trh; did you mean "mask_thr"? the known keys are '
        f'{TEST_CFG_KEYS}')
    assert not osp.exists(tmp_path / 'work')
