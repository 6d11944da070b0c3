"""tools/misc/download_checkpoint.py end to end against the loopback server (tests/conftest.py):
a metafile entry whose Weights are the authors' file behind a Drive-like page becomes an
MMDetection checkpoint and a flattened config that DetInferencer takes as they are."""
import hashlib
import importlib.util
import json
import os
import os.path as osp
import re

import pytest
import torch
from mmdet.apis import DetInferencer

from mmpfcn.utils.model_index import ModelEntry

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'misc', 'download_checkpoint.py')
NAME = 'panoptic-fcn-reference_r50_fpn'


def load_tool():
    spec = importlib.util.spec_from_file_location('download_checkpoint', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


@pytest.fixture
def setup(loopback_server, authors_checkpoint, reference_config, tmp_path, monkeypatch):
    """The tool, with ``find_model`` answering for one entry served by the loopback server."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    torch.set_num_threads(2)
    with open(authors_checkpoint, 'rb') as file:
        body = file.read()
    url = loopback_server.add_drive_like('reference', body)
    config = str(tmp_path / 'reference_config.py')
    reference_config.dump(config)
    raw = {'Name': NAME, 'Config': config, 'Weights': url, 'Weights Size': len(body),
           'Weights SHA256': hashlib.sha256(body).hexdigest()}
    entries = {NAME: ModelEntry(NAME, (), config, url, raw)}
    tool = load_tool()
    monkeypatch.setattr(tool, 'find_model', lambda name: entries[name])
    return dict(tool=tool, entries=entries, url=url, out=tmp_path / 'out',
                cache=tmp_path / 'torch_home' / 'hub' / 'checkpoints')


def test_download_converts_records_and_feeds_det_inferencer(setup, capsys, reference_image,
                                                            check_reference_segments):
    setup['tool'].main([NAME, '--out-dir', str(setup['out'])])
    printed = capsys.readouterr().out
    record = json.load(open(setup['out'] / f'{NAME}.json'))
    for kind in ('checkpoint', 'config'):
        path = setup['out'] / record[kind]['file']
        data = path.read_bytes()
        assert record[kind]['size'] == len(data)
        assert record[kind]['sha256'] == hashlib.sha256(data).hexdigest()
        assert record[kind]['sha256'] in printed and str(path) in printed
    assert record['checkpoint']['file'] == f'{NAME}-{record["checkpoint"]["sha256"][:8]}.pth'
    assert record['source']['url'] == setup['url']
    assert sorted(os.listdir(setup['out'])) == sorted(
        [record['checkpoint']['file'], f'{NAME}.py', f'{NAME}.json'])

    checkpoint = torch.load(setup['out'] / record['checkpoint']['file'], weights_only=True)
    assert checkpoint['meta']['dataset_meta']['category_ids'][-1] == 200
    assert 'kernel_generator.position_head.center_conv.weight' in checkpoint['state_dict']
    inferencer = DetInferencer(model=str(setup['out'] / f'{NAME}.py'),
                               weights=str(setup['out'] / record['checkpoint']['file']), device='cpu')
    sample = inferencer(reference_image, return_datasamples=True)['predictions'][0]
    check_reference_segments(sample, inferencer.model)


def test_a_wrong_sha256_stops_before_anything_is_cached_or_written(setup):
    setup['entries'][NAME].raw['Weights SHA256'] = '0' * 64
    with pytest.raises(SystemExit, match=re.escape(setup['url']) + ': the download has SHA-256 .*, '
                       'expected 0+; nothing was cached'):
        setup['tool'].main([NAME, '--out-dir', str(setup['out'])])
    assert not setup['out'].exists() and os.listdir(setup['cache']) == []


def test_an_unknown_name_is_an_error_naming_it(tmp_path):
    with pytest.raises(SystemExit, match="Unknown model 'panoptic-fcn_r18_nonexistent'"):
        load_tool().main(['panoptic-fcn_r18_nonexistent', '--out-dir', str(tmp_path / 'out')])
    assert not (tmp_path / 'out').exists()
