"""Issue 7.6: result files are never half-written. ``--out`` pickles,
``format_only`` panoptic PNG/JSON dumps and ``--show-dir`` visualisations go
to a temporary name and are moved into place: a test process killed (SIGKILL)
in the middle of writing one leaves the previous file intact, or no file."""
import glob
import os.path as osp
import pickle
import re
import signal

import mmcv
import pytest

from mmpfcn.utils import atomic_write

from .conftest import DATA_DIR, NUM_VAL, run_tool

KILL_CONFIG = osp.join(DATA_DIR, 'configs',
                       'tiny_panoptic_fcn_kill_on_write.py')


def run_test_tool(root, checkpoint, work_dir, **env):
    """tools/test.py writing every kind of result into ``work_dir``."""
    return run_tool(
        'test.py', KILL_CONFIG, checkpoint, '--work-dir', work_dir, '--out',
        osp.join(work_dir, 'preds.pkl'), '--show-dir', 'vis',
        '--cfg-options', 'test_evaluator.format_only=True',
        f'test_evaluator.outfile_prefix={work_dir}/submission/results',
        data_root=root, cwd=work_dir, **env)


def result_files(work_dir: str) -> dict:
    """Content of every result file, by path relative to ``work_dir``."""
    paths = [
        osp.join(work_dir, 'preds.pkl'),
        osp.join(work_dir, 'submission', 'results.panoptic.json'),
        *glob.glob(osp.join(work_dir, 'submission', 'results.panoptic',
                            '*.png')),
    ]
    return {
        osp.relpath(path, work_dir): open(path, 'rb').read()
        for path in paths
    }


@pytest.fixture(scope='module')
def first_results(generated_root, random_checkpoint, tmp_path_factory):
    """A complete test run: its work dir and result files."""
    work_dir = str(tmp_path_factory.mktemp('results'))
    result = run_test_tool(generated_root, random_checkpoint, work_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    return work_dir, result_files(work_dir)


def test_complete_run_writes_complete_results(first_results):
    work_dir, files = first_results
    assert len(pickle.loads(files['preds.pkl'])) == NUM_VAL
    pngs = sorted(glob.glob(osp.join(work_dir, '*', 'vis', '*.png')))
    pngs += glob.glob(osp.join(work_dir, 'submission', '*', '*.png'))
    assert len(pngs) == 2 * NUM_VAL
    assert all(mmcv.imread(path) is not None for path in pngs)
    assert not glob.glob(osp.join(work_dir, '**', '.*.tmp'), recursive=True)


@pytest.mark.parametrize('target', [
    'preds.pkl', 'submission/results.panoptic.json',
    'submission/results.panoptic/000002.png', 'vis/000002.png'
])
def test_kill_during_write_leaves_no_partial_file(first_results,
                                                  generated_root,
                                                  random_checkpoint, target):
    """Killed while writing ``target`` (cut to half, then SIGKILL): every
    result file is still the complete one of the first run, the target's
    temporary file holds the partial data, and a visualisation is either
    complete or absent."""
    work_dir, files = first_results
    folder, name = osp.split(target)
    pattern = re.escape(osp.join(folder, f'.{name}.')) + r'[0-9a-f]+\.tmp$'
    killed = run_test_tool(
        generated_root, random_checkpoint, work_dir,
        MMPFCN_KILL_ON_WRITE=pattern)
    assert killed.returncode == -signal.SIGKILL
    assert result_files(work_dir) == files
    partial = glob.glob(
        osp.join(work_dir, '**', folder, f'.{name}.*.tmp'), recursive=True)
    assert len(partial) == 1 and osp.getsize(partial[0]) > 0
    vis_dir = max(glob.glob(osp.join(work_dir, '2*', 'vis')) or [''])
    if target == 'vis/000002.png':
        assert sorted(map(osp.basename,
                          glob.glob(osp.join(vis_dir, '*.png')))) == [
                              '000001.png'
                          ]
        assert mmcv.imread(osp.join(vis_dir, '000001.png')) is not None


def test_atomic_write_keeps_the_previous_file_when_the_writer_fails(
        tmp_path):
    path = str(tmp_path / 'result.json')
    with atomic_write(path, 'w') as file:
        file.write('{"complete": 1}')
    with pytest.raises(RuntimeError):
        with atomic_write(path, 'w') as file:
            file.write('{"compl')
            raise RuntimeError('writer failed')
    assert open(path).read() == '{"complete": 1}'
    assert [p.name for p in tmp_path.iterdir()] == ['result.json']
