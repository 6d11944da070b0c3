"""tools/model_converters/panopticfcn_d2_to_mmdet.py on the package's converter: the variant read
from the keys, a mismatch or another file refused naming it (correctness: tests/test_parity.py)."""
import importlib.util
import os.path as osp
import sys

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'model_converters', 'panopticfcn_d2_to_mmdet.py')


def run_tool(monkeypatch, *args: str) -> None:
    spec = importlib.util.spec_from_file_location('panopticfcn_d2_to_mmdet', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    monkeypatch.setattr(sys, 'argv', [TOOL, *args])
    tool.main()


def test_variant_is_read_from_the_keys(authors_checkpoint, tmp_path, monkeypatch):
    dst = tmp_path / 'converted.pth'
    run_tool(monkeypatch, authors_checkpoint, str(dst))
    checkpoint = torch.load(dst, weights_only=True)
    assert checkpoint['meta']['variant'] == 'plain'
    assert checkpoint['meta']['converted_from'] == authors_checkpoint
    assert len(checkpoint['meta']['dataset_meta']['category_ids']) == 133
    assert 'kernel_generator.position_head.convs.0.conv.conv_offset.weight' not in checkpoint['state_dict']


def test_a_variant_that_does_not_fit_is_refused(authors_checkpoint, tmp_path, monkeypatch):
    with pytest.raises(SystemExit, match=r"(?s)variant 'plain'.*variant 'default'.*--variant plain"):
        run_tool(monkeypatch, authors_checkpoint, str(tmp_path / 'out.pth'), '--variant', 'default')
    other = tmp_path / 'resnet.pth'
    torch.save({'conv1.weight': torch.zeros(1)}, other)
    with pytest.raises(SystemExit, match=f"{other}: not an authors' Panoptic FCN checkpoint"):
        run_tool(monkeypatch, str(other), str(tmp_path / 'out.pth'))
    assert not (tmp_path / 'out.pth').exists()
