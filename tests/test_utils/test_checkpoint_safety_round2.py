"""Checkpoints, round two (issue 29): every plain-data checkpoint that
MMEngine, MMDetection and mmpfcn write loads equal to what was saved, and
hostile pickles (code, attribute chains, allocation bombs, forged numpy
state, cut-short files) are refused with an error naming the file, under a
memory cap that any large allocation would hit first."""
import contextlib
import math
import operator
import os
import os.path as osp
import pickle
import resource
import subprocess
import zipfile
from collections import OrderedDict
from typing import Any, Callable, Iterator, List, Optional, Tuple

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import MessageHub
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.optim import LinearLR, PolyLR
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint, save_checkpoint

from mmpfcn.utils.checkpoint_safety import (UnreadableCheckpointError,
                                            UnsafeCheckpointError)
from mmpfcn.utils.coco_panoptic_meta import coco_panoptic_dataset_meta

DATA_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data')
CONFIG = osp.join(DATA_DIR, 'configs', 'tiny_regression.py')
# Address space a load may add under the cap: far below any bomb below.
CAP_HEADROOM = 1 << 30
HUGE = 10**12

NUMPY_DTYPES = [
    'bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32',
    'uint64', 'float16', 'float32', 'float64', 'longdouble', 'complex64',
    'complex128', 'clongdouble', '>i4', '>f8', 'datetime64',
    'datetime64[s]', 'datetime64[ns]', 'datetime64[25s]', 'timedelta64[ms]',
    'timedelta64[D]', 'U5', 'S4', 'V3'
]
# (name, shape, order); a shape of None means a numpy scalar.
NUMPY_FORMS = [('scalar', None, 'C'), ('0-d', (), 'C'), ('1-d', (6, ), 'C'),
               ('2-d', (2, 3), 'C'), ('fortran', (2, 3), 'F'),
               ('empty', (0, ), 'C'), ('empty-2-d', (0, 3), 'C')]


def sample(dtype: str, shape: Optional[Tuple[int, ...]], order: str) -> Any:
    """Distinct values of ``dtype`` in ``shape`` (a scalar when None)."""
    count = 1 if shape is None else math.prod(shape)
    if np.dtype(dtype).kind == 'V':
        data = bytes(i % 256 for i in range(count * np.dtype(dtype).itemsize))
        values = np.frombuffer(data, dtype).copy()
    else:
        values = np.arange(count).astype(dtype)
    if shape is None:
        return values[0]
    return values.reshape(shape, order=order)


def filled_history(max_length: int, updates: int) -> HistoryBuffer:
    buffer = HistoryBuffer(max_length=max_length)
    for step in range(updates):
        buffer.update(0.5 * step, count=step + 1)
    return buffer


def trained_optimizer(make: Callable) -> torch.optim.Optimizer:
    """An optimizer of a tiny model after two steps, so it has state."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = make(model.parameters())
    for _ in range(2):
        optimizer.zero_grad()
        model(torch.randn(4, 3)).square().mean().backward()
        optimizer.step()
    return optimizer


def scheduler_states() -> List[dict]:
    """LinearLR then PolyLR, as MMEngine saves ``param_schedulers``."""
    optimizer = trained_optimizer(
        lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9))
    schedulers = [
        LinearLR(optimizer, start_factor=0.001, by_epoch=False, begin=0,
                 end=2),
        PolyLR(optimizer, power=0.9, eta_min=0.0, by_epoch=False, begin=0,
               end=5)
    ]
    for _ in range(3):
        for scheduler in schedulers:
            scheduler.step()
    return [scheduler.state_dict() for scheduler in schedulers]


def grad_scaler_state() -> dict:
    """An AMP ``GradScaler`` after a step, as ``AmpOptimWrapper`` saves it."""
    scaler = torch.amp.GradScaler('cpu', init_scale=1024.0)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler.scale(model(torch.ones(2, 3)).sum()).backward()
    scaler.step(optimizer)
    scaler.update()
    return scaler.state_dict()


def message_hub_state() -> dict:
    """A message hub with a filled, a full and an empty buffer and numpy
    runtime info, as a Runner saves ``meta['message_hub']``."""
    hub = MessageHub.get_instance('checkpoint_safety_round2')
    for step in range(3):
        hub.update_scalar('train/loss', 1.0 / (step + 1))
    hub.update_info('iter', 3)
    hub.update_info('eta', np.float64(12.5))
    state = hub.state_dict()
    state['log_scalars']['train/full'] = filled_history(2, 5)
    state['log_scalars']['val/empty'] = HistoryBuffer()
    return state


LEGITIMATE = [
    *[(f'numpy-{dtype}-{form}', lambda d=dtype, s=shape, o=order: sample(
        d, s, o)) for dtype in NUMPY_DTYPES
      for form, shape, order in NUMPY_FORMS],
    ('bytes-empty', lambda: b''),
    ('bytes', lambda: b'\x00\xffcheckpoint'),
    ('bytearray', lambda: [bytearray(), bytearray(b'\x00\x01')]),
    ('history-buffer-empty', HistoryBuffer),
    ('history-buffer-partly-filled', lambda: filled_history(5, 2)),
    ('history-buffer-full', lambda: filled_history(3, 7)),
    ('dataset-meta-coco-panoptic', coco_panoptic_dataset_meta),
    ('dataset-meta-tuples-lists-dicts', lambda: dict(
        classes=('circle', 'sky'), palette=[(220, 20, 60), (0, 0, 142)],
        label_map={1: 0, 2: 1}, thing_classes=['circle'],
        stuff_classes=['sky'])),
    ('optimizer-sgd-momentum', lambda: trained_optimizer(
        lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9)).
     state_dict()),
    ('optimizer-adamw', lambda: trained_optimizer(
        lambda params: torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-4)
    ).state_dict()),
    ('schedulers-linear-poly', scheduler_states),
    ('amp-grad-scaler', grad_scaler_state),
    ('message-hub', message_hub_state),
]


def assert_same(loaded: Any, saved: Any) -> None:
    """``loaded`` equals ``saved`` in type, dtype, memory order and bytes."""
    assert type(loaded) is type(saved)
    if isinstance(saved, np.ndarray):
        assert (loaded.dtype, loaded.shape) == (saved.dtype, saved.shape)
        assert loaded.flags.f_contiguous == saved.flags.f_contiguous
        assert loaded.tobytes(order='A') == saved.tobytes(order='A')
    elif isinstance(saved, np.generic):
        assert loaded.dtype == saved.dtype
        assert loaded.tobytes() == saved.tobytes()
    elif isinstance(saved, HistoryBuffer):
        assert loaded.max_length == saved.max_length
        assert_same(loaded.data, saved.data)
    elif isinstance(saved, torch.Tensor):
        assert loaded.dtype == saved.dtype
        assert torch.equal(loaded, saved)
    elif isinstance(saved, dict):
        assert list(loaded) == list(saved)
        for key, value in saved.items():
            assert_same(loaded[key], value)
    elif isinstance(saved, (list, tuple)):
        assert len(loaded) == len(saved)
        for loaded_item, saved_item in zip(loaded, saved):
            assert_same(loaded_item, saved_item)
    else:
        assert loaded == saved


def load_meta(path: str) -> Any:
    """Load ``path`` as MMEngine does (``Runner.resume``, ``load_from``)."""
    return _load_checkpoint(path, map_location='cpu')['meta']


@pytest.mark.parametrize(
    'make_payload', [make for _, make in LEGITIMATE],
    ids=[name for name, _ in LEGITIMATE])
def test_legitimate_payload_loads_as_saved(tmp_path, make_payload):
    """Equal to what torch's unrestricted loader restores from the file (as
    pickle does, it restores a 0-d big-endian array in native order)."""
    path = str(tmp_path / 'legitimate.pth')
    torch.save(
        dict(state_dict=OrderedDict(), meta=dict(payload=make_payload())),
        path)
    written = torch.load(path, weights_only=False)['meta']['payload']

    assert_same(load_meta(path)['payload'], written)
    assert_same(torch.load(path, weights_only=True)['meta']['payload'],
                written)


def rewrite_pickle(path: str, edit: Callable[[bytes], bytes]) -> None:
    """Replace the pickle of the torch archive ``path`` by ``edit`` of it."""
    with zipfile.ZipFile(path) as archive:
        records = {name: archive.read(name) for name in archive.namelist()}
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as archive:
        for name, data in records.items():
            archive.writestr(
                name, edit(data) if name.endswith('/data.pkl') else data)


def test_numpy2_checkpoint_loads(tmp_path):
    """numpy >= 2 pickles its rebuild functions under ``numpy._core``."""
    payload = dict(array=np.arange(4.0), scalar=np.float32(1.5),
                   empty=np.zeros(0, dtype=np.int8))
    path = str(tmp_path / 'numpy2.pth')
    torch.save(dict(state_dict=OrderedDict(), meta=payload), path)
    rewrite_pickle(
        path, lambda data: data.replace(b'numpy.core.multiarray\n',
                                        b'numpy._core.multiarray\n'))

    assert_same(load_meta(path), payload)


def test_legacy_format_checkpoint_loads(tmp_path):
    """torch's pre-1.6 format is a series of pickles, checked one by one."""
    payload = dict(empty=np.zeros(0), buffer=HistoryBuffer(), data=b'')
    path = str(tmp_path / 'legacy.pth')
    torch.save(dict(state_dict=OrderedDict(), meta=payload), path,
               _use_new_zipfile_serialization=False)

    assert_same(load_meta(path), payload)


def test_runner_like_checkpoint_loads(tmp_path):
    """Every part of a runner's checkpoint at once, written by MMEngine's
    ``save_checkpoint``."""
    checkpoint = dict(
        meta=dict(
            epoch=0, iter=3, seed=0, experiment_name='round2',
            time='20240101_000000', mmengine_version='0.10.7',
            dataset_meta=coco_panoptic_dataset_meta(),
            message_hub=message_hub_state()),
        state_dict=OrderedDict(weight=torch.arange(4.0)),
        optimizer=trained_optimizer(
            lambda params: torch.optim.AdamW(params, lr=1e-3)).state_dict(),
        param_schedulers=scheduler_states(),
        loss_scaler=grad_scaler_state())
    path = str(tmp_path / 'runner_like.pth')
    save_checkpoint(checkpoint, path)

    loaded = _load_checkpoint(path, map_location='cpu')
    assert_same(dict(loaded['state_dict']), dict(checkpoint['state_dict']))
    del loaded['state_dict'], checkpoint['state_dict']
    assert_same(loaded, checkpoint)


class EmptyStateHook(Hook):
    """Stores its own state in every checkpoint, as hooks may (EMAHook
    does): a buffer and an array it has not filled yet."""

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['meta']['empty_state'] = dict(
            history=HistoryBuffer(), values=np.zeros(0, dtype=np.float32))


def test_runner_checkpoint_with_adamw_schedulers_loads(tmp_path, monkeypatch):
    """A checkpoint written by a real Runner: AdamW, LinearLR then PolyLR,
    and a hook's empty buffer and array."""
    monkeypatch.syspath_prepend(DATA_DIR)
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = str(tmp_path / 'train')
    cfg.experiment_name = 'round2'
    cfg.train_cfg.max_iters = 2
    cfg.default_hooks.checkpoint.interval = 2
    cfg.optim_wrapper = dict(
        optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4))
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
             end=1),
        dict(type='PolyLR', power=0.9, by_epoch=False, begin=1, end=2)
    ]
    runner = Runner.from_cfg(cfg)
    runner.register_hook(EmptyStateHook())
    runner.train()
    path = osp.join(cfg.work_dir, 'iter_2.pth')

    loaded = _load_checkpoint(path, map_location='cpu')
    written = torch.load(path, weights_only=False)
    assert loaded['meta']['empty_state']['values'].size == 0
    assert_same(dict(loaded['state_dict']), dict(written['state_dict']))
    del loaded['state_dict'], written['state_dict']
    assert_same(loaded, written)


def address_space() -> int:
    """This process's virtual memory size in bytes."""
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith('VmSize:'):
                return int(line.split()[1]) * 1024
    raise RuntimeError('/proc/self/status has no VmSize')


@contextlib.contextmanager
def memory_cap() -> Iterator[None]:
    """Cap the address space at its size now plus :data:`CAP_HEADROOM`: an
    allocation on a file's say-so raises MemoryError instead of a refusal."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS,
                       (address_space() + CAP_HEADROOM, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def test_memory_cap_stops_large_allocations():
    """The cap the hostile cases load under does catch an allocation."""
    with memory_cap(), pytest.raises(MemoryError):
        bytearray(2 * CAP_HEADROOM)


class Payload:
    """Pickles as ``func(*args)``, then ``state`` given to the result (BUILD)
    when there is one: the pickle a hostile file holds."""

    def __init__(self, func: Callable, args: tuple, state: Any = None) -> None:
        self.func, self.args, self.state = func, args, state

    def __reduce__(self) -> tuple:
        if self.state is None:
            return self.func, self.args
        return self.func, self.args, self.state


def saved(meta: Any, **save_args: Any) -> Callable[[str], None]:
    """Writer of a checkpoint holding ``meta``."""
    return lambda path: torch.save(
        dict(state_dict={}, meta=meta), path, **save_args)


def crafted(pickle_data: bytes) -> Callable[[str], None]:
    """Writer of a torch archive whose pickle is ``pickle_data``."""

    def write(path: str) -> None:
        torch.save({}, path)
        rewrite_pickle(path, lambda _: pickle_data)

    return write


def cut_pickle(path: str) -> None:
    """A checkpoint whose pickle stops halfway (a complete archive)."""
    torch.save(dict(state_dict={}, meta=dict(history=np.arange(4.0))), path)
    rewrite_pickle(path, lambda data: data[:len(data) // 2])


def marker_path(path: str) -> str:
    return osp.join(osp.dirname(path), 'pwned')


def run_code(func: Callable,
             make_args: Callable[[str], tuple]) -> Callable[[str], None]:
    """Writer of a checkpoint that, if loaded, creates :func:`marker_path`."""
    return lambda path: saved(Payload(func, make_args(marker_path(path))))(
        path)


F8 = np.dtype('f8')
_reconstruct = np.core.multiarray._reconstruct
_scalar = np.core.multiarray.scalar
# numpy.ndarray.__new__(numpy.ndarray, (10**12,)) by NEWOBJ, written by hand:
# pickle writes NEWOBJ only for an object of the class it creates.
NEWOBJ_NDARRAY = (b'\x80\x02cnumpy\nndarray\n\x8a' +
                  bytes([len(pickle.encode_long(HUGE))]) +
                  pickle.encode_long(HUGE) + b'\x85\x85\x81.')

# (name, writer of the file, what the message says after the file name)
HOSTILE = [
    ('os.system', run_code(os.system, lambda marker: (f'touch {marker}', )),
     "the global 'posix.system'"),
    ('builtins.eval',
     run_code(eval,
              lambda marker: (f'open({marker!r}, "w").close()', )),
     "the global 'eval'"),
    ('subprocess.Popen',
     run_code(subprocess.Popen, lambda marker: (['touch', marker], )),
     # pickle's protocol 2 writes subprocess.Popen under Python 2's name
     "the global 'commands.Popen'"),
    ('getattr-private-attribute',
     saved(Payload(getattr, (HistoryBuffer, '__init__'))),
     "the global 'mmengine.logging.history_buffer.HistoryBuffer.__init__'"),
    ('getattr-chain', saved(Payload(getattr, (HistoryBuffer.mean,
                                              '__globals__'))),
     "the global 'builtins.function.__globals__'"),
    ('operator.attrgetter',
     saved(Payload(operator.attrgetter('__globals__'),
                   (HistoryBuffer.mean, ))),
     "the global 'operator.attrgetter'"),
    ('bytes-bomb', saved(Payload(bytes, (HUGE, ))),
     'it calls builtins.bytes(1000000000000), a call that allocates'),
    ('bytearray-bomb', saved(Payload(bytearray, (HUGE, ))),
     'it calls builtins.bytearray(1000000000000), a call that allocates'),
    ('bytearray-bomb-legacy-format',
     saved(Payload(bytearray, (HUGE, )),
           _use_new_zipfile_serialization=False),
     'it calls builtins.bytearray(1000000000000), a call that allocates'),
    ('bytearray-bomb-through-rebuild-from-type',
     saved(Payload(torch._tensor._rebuild_from_type_v2,
                   (bytearray, bytearray, (HUGE, ), {}))),
     'it calls torch._tensor._rebuild_from_type_v2(builtins.bytearray'),
    ('numpy.zeros', saved(Payload(np.zeros, ((HUGE, ), ))),
     "the global 'numpy.zeros'"),
    ('numpy.ndarray-bomb', saved(Payload(np.ndarray, ((HUGE, ), ))),
     'it calls numpy.ndarray((1000000000000,)), a constructor that '
     'allocates'),
    ('numpy.ndarray-newobj-bomb', crafted(NEWOBJ_NDARRAY),
     'it creates numpy.ndarray.__new__((1000000000000,)), a constructor'),
    ('torch.Tensor-bomb', saved(Payload(torch.Tensor, (HUGE, ))),
     'it calls torch.Tensor(1000000000000), a constructor that allocates'),
    ('torch.UntypedStorage-bomb', saved(Payload(torch.UntypedStorage,
                                                (HUGE, ))),
     'it calls torch.storage.UntypedStorage(1000000000000), a constructor'),
    ('_reconstruct-huge-shape',
     saved(Payload(_reconstruct, (np.ndarray, (HUGE, ), b'b'))),
     'it calls numpy.core.multiarray._reconstruct(numpy.ndarray, '
     "(1000000000000,), b'b'), which allocates the shape it is given"),
    ('array-larger-than-its-data',
     saved(Payload(_reconstruct, (np.ndarray, (0, ), b'b'),
                   (1, (HUGE, ), F8, False, b''))),
     'it declares a numpy array of shape (1000000000000,) and dtype float64 '
     '(8000000000000 bytes) but holds 0 bytes of data'),
    ('array-beyond-addressable-memory',
     saved(Payload(_reconstruct, (np.ndarray, (0, ), b'b'),
                   (1, (0, 2**40, 2**40), F8, False, b''))),
     'more than memory can address'),
    ('dtype-item-size-overflow',
     saved(Payload(np.dtype, (f'V{HUGE}', False, True))),
     "it calls numpy.dtype('V1000000000000', False, True), not how numpy "
     'pickles a dtype'),
    ('dtype-shared-singleton',
     saved(Payload(np.dtype, ('f8', False, False),
                   (3, '>', None, None, None, -1, -1, 0))),
     "it calls numpy.dtype('f8', False, False), not how numpy pickles a "
     'dtype'),
    ('dtype-field-outside-item',
     saved(Payload(np.dtype, ('f8', False, True),
                   (3, '<', None, ('a', ), {'a': (F8, HUGE)}, -1, -1, 0))),
     "it gives numpy.dtype('f8') fields or a sub-array"),
    ('dtype-huge-sub-array',
     saved(Payload(np.dtype, ('f8', False, True),
                   (3, '<', (F8, (10**6, 10**6)), None, None, -1, -1, 0))),
     "it gives numpy.dtype('f8') fields or a sub-array"),
    ('dtype-object-flags',
     saved(Payload(np.dtype, ('f8', False, True),
                   (3, '<', None, None, None, -1, -1, 63))),
     "it rebuilds numpy.dtype('f8') from the state"),
    ('dtype-item-size-larger-than-declared',
     saved(Payload(np.dtype, ('V8', False, True),
                   (3, '|', None, None, None, HUGE, 1, 0))),
     "it rebuilds numpy.dtype('V8') from the state"),
    ('numpy-object-array', saved(np.array([1, 'a'], dtype=object)),
     "it calls numpy.dtype('O8', False, True), but mmpfcn loads numpy data "
     'without Python objects only'),
    ('numpy-structured-array', saved(np.zeros(2, dtype=[('a', 'f4')])),
     "it gives numpy.dtype('V4') fields or a sub-array"),
    ('scalar-shorter-than-its-dtype', saved(Payload(_scalar, (F8, b''))),
     'not how numpy pickles a scalar: scalar(dtype, data) with exactly one '
     'item'),
    ('pickle-cut-short', cut_pickle,
     'its pickle data is cut short or malformed'),
    ('pickle-memo-get-unset', crafted(b'\x80\x02h\x05.'),
     'its pickle data is cut short or malformed (KeyError: 5)'),
    ('pickle-protocol-4-memoize', crafted(pickle.dumps({}, protocol=4)),
     "its pickle holds the opcode b'\\x94', which torch.save does not write"),
]


@pytest.mark.parametrize(
    'write, expected', [(write, expected) for _, write, expected in HOSTILE],
    ids=[name for name, _, _ in HOSTILE])
def test_hostile_payload_is_refused(tmp_path, write, expected):
    path = str(tmp_path / 'hostile.pth')
    write(path)

    with memory_cap(), pytest.raises(UnsafeCheckpointError) as error:
        _load_checkpoint(path)

    assert str(error.value).startswith(
        f'Refusing to load checkpoint {path}: ')
    assert expected in str(error.value)
    assert not osp.exists(marker_path(path))


@pytest.mark.parametrize(
    'write', [write for name, write, _ in HOSTILE if 'bomb' in name],
    ids=[name for name, _, _ in HOSTILE if 'bomb' in name])
def test_plain_torch_load_refuses_bombs(tmp_path, write):
    """The check runs inside torch's weights-only unpickler, so callers of
    ``torch.load`` (the URL loader, scripts) are covered too."""
    path = str(tmp_path / 'hostile.pth')
    write(path)

    with memory_cap(), pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)


def truncated(path: str) -> None:
    torch.save(dict(state_dict=dict(weight=torch.zeros(100))), path)
    with open(path, 'rb') as file:
        data = file.read()
    with open(path, 'wb') as file:
        file.write(data[:len(data) // 2])


def html_page(path: str) -> None:
    with open(path, 'w') as file:
        file.write('<!DOCTYPE html><html>Not found</html>')


def empty_file(path: str) -> None:
    open(path, 'wb').close()


@pytest.mark.parametrize(
    'write, found',
    [(truncated, 'a zip archive without the central directory at its end'),
     (html_page, "it starts with b'<!DO', neither a zip archive nor a pickle"),
     (empty_file, 'an empty file')],
    ids=['truncated', 'html-page', 'empty'])
def test_unreadable_file_is_named(tmp_path, write, found):
    path = str(tmp_path / 'iter_4.pth')
    write(path)

    with pytest.raises(UnreadableCheckpointError) as error:
        _load_checkpoint(path)

    assert str(error.value) == (
        f'Cannot load checkpoint {path}: it is truncated or not a PyTorch '
        f'checkpoint ({found}). Copy or download it again (if a run is still '
        'writing it, wait until it has finished), or load another '
        'checkpoint.')

