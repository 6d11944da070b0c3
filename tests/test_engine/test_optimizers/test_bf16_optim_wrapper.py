"""BF16OptimWrapper: bfloat16 autocast around a real Panoptic FCN training step on CPU."""
import copy
import os.path as osp

import pytest
import torch
from mmdet.registry import DATASETS, MODELS, OPTIM_WRAPPERS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

from mmpfcn.engine import BF16OptimWrapper
from projects.synthetic.synthetic_panoptic import generate_synthetic_panoptic

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIG = osp.join(REPO_ROOT, 'projects', 'synthetic', 'configs', 'panoptic-fcn_r18_fpn_synthetic.py')


@pytest.fixture(scope='module')
def model_and_data(tmp_path_factory):
    """The synthetic config's model and a preprocessed batch of two generated images."""
    init_default_scope('mmdet')
    root = str(tmp_path_factory.mktemp('bf16') / 'synthetic')
    generate_synthetic_panoptic(root, num_train=2, num_val=1, size=64, seed=1)
    cfg = Config.fromfile(CONFIG)
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=root))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    data = model.data_preprocessor(pseudo_collate([dataset[0], dataset[1]]), training=True)
    return model, data


def losses_of(model, data):
    return model(**copy.deepcopy(data), mode='loss')


def test_built_from_config_by_name():
    init_default_scope('mmdet')
    wrapper = build_optim_wrapper(
        torch.nn.Linear(2, 2), dict(type='BF16OptimWrapper', optimizer=dict(type='SGD', lr=0.1)))
    assert isinstance(wrapper, BF16OptimWrapper)
    assert OPTIM_WRAPPERS.get('BF16OptimWrapper') is BF16OptimWrapper


def test_convolutions_run_in_bf16_and_losses_in_float32(model_and_data):
    model, data = model_and_data
    wrapper = BF16OptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.0))
    seen = []
    hook = model.backbone.conv1.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    try:
        with wrapper.optim_context(model):
            losses = losses_of(model, data)
    finally:
        hook.remove()
    assert seen == [torch.bfloat16]
    assert {loss.dtype for loss in losses.values()} == {torch.float32}
    assert all(torch.isfinite(loss) for loss in losses.values())


def test_step_matches_float32(model_and_data):
    """bf16 losses are within bf16 rounding of the float32 ones, and one update moves the
    float32 parameters in the direction of a float32 step."""
    model, data = model_and_data
    start = copy.deepcopy(model.state_dict())

    def step(wrapper):
        model.load_state_dict(start)
        with wrapper.optim_context(model):
            losses = losses_of(model, data)
        wrapper.update_params(sum(losses.values()))
        delta = torch.cat([(p - start[k]).flatten() for k, p in model.state_dict().items()
                           if p.is_floating_point()])
        return losses, delta

    fp32_losses, fp32_delta = step(
        build_optim_wrapper(model, dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=1e-3))))
    bf16_losses, bf16_delta = step(
        build_optim_wrapper(model, dict(type='BF16OptimWrapper', optimizer=dict(type='SGD', lr=1e-3))))
    model.load_state_dict(start)
    for key, value in fp32_losses.items():
        assert bf16_losses[key].item() == pytest.approx(value.item(), rel=0.05, abs=1e-3), key
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert bf16_delta.abs().sum() > 0
    assert torch.nn.functional.cosine_similarity(bf16_delta, fp32_delta, dim=0) > 0.95


def test_train_amp_flag_picks_bf16_on_cpu(monkeypatch):
    """``tools/train.py --amp`` keeps MMDet's fp16 AmpOptimWrapper on CUDA and trains in
    bfloat16 on a CPU, where MMEngine's AmpOptimWrapper refuses to run."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'train_tool', osp.join(REPO_ROOT, 'tools', 'train.py'))
    train_tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_tool)
    args = train_tool.argparse.Namespace(amp=True, auto_scale_lr=False, resume=None)
    for cuda, expected in ((False, 'BF16OptimWrapper'), (True, 'AmpOptimWrapper')):
        monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
        cfg = train_tool.apply_train_args(Config.fromfile(CONFIG), args)
        assert cfg.optim_wrapper.type == expected


def test_test_amp_flag_autocasts_the_test_loop():
    """``tools/test.py --amp`` runs MMEngine's TestLoop under autocast (float16 on CUDA,
    bfloat16 on a CPU); without it the loop stays float32."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'test_tool', osp.join(REPO_ROOT, 'tools', 'test.py'))
    test_tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(test_tool)
    for amp in (True, False):
        args = test_tool.argparse.Namespace(checkpoint='x.pth', show=False, show_dir=None,
                                            amp=amp, tta=False)
        cfg = test_tool.apply_test_args(Config.fromfile(CONFIG), args)
        assert cfg.test_cfg.type == 'TestLoop'
        assert cfg.test_cfg.get('fp16', False) is amp
