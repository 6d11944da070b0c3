"""Weights-only checkpoint loading that works with MMEngine's own checkpoints.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``: a restricted
unpickler that only rebuilds tensors, containers and allow-listed globals.
MMEngine 0.10.7 calls ``torch.load`` without ``weights_only``, so resuming or
loading one of its checkpoints fails on the non-tensor objects it stores: the
message hub's ``HistoryBuffer`` (holding numpy arrays and the buffer's
statistics methods, pickled as ``getattr(HistoryBuffer, 'mean')``) and numpy
scalars such as the ETA.

:func:`install_safe_checkpoint_loading` allow-lists exactly those objects,
numpy's plain data (every dtype but ``object``, empty arrays and ``b''``) and
makes every refusal name the file and the rejected global. It never loads
with ``weights_only=False``: nothing in a checkpoint gets to run.

An allowed callable still runs on arguments the file chooses, and numpy
rebuilds dtypes and arrays from whatever state the file gives:
``bytearray(10**12)`` (allowed by torch itself), ``numpy.ndarray((10**12,))``
or an array declaring more bytes than it holds allocate memory on the file's
say-so, and a dtype state with fields or object flags makes numpy read or
free memory outside an array. So every weights-only load first walks the
pickle without rebuilding anything (:class:`PickleCheck`) and refuses calls
and states that torch.save and numpy never write.

The same guard hands every loaded checkpoint to
:func:`~.checkpoint_format.as_mmengine_checkpoint`, so the authors'
detectron2 files load as MMEngine checkpoints and a refused state dict names
its source.
"""
import _codecs
import math
import os.path as osp
import pickle
import re
import reprlib
import struct
import sys
import zipfile
from typing import IO, Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader
from torch import _weights_only_unpickler

from .checkpoint_format import as_mmengine_checkpoint

# The statistics methods HistoryBuffer registers for itself and pickles along
# with every buffer (see ``HistoryBuffer._set_default_statistics``).
HISTORY_BUFFER_STATISTICS = frozenset({'min', 'max', 'current', 'mean'})

# torch names a rejected global in its GLOBAL check, and a rejected class of
# an object being rebuilt (BUILD) as "but got <class '...'>".
_REJECTED_GLOBAL = re.compile(r"GLOBAL (\S+)|but got <class '([^']+)'>")

# The name numpy pickles a dtype without fields, sub-array or objects under:
# bool, integers, floats, complex numbers, datetime64/timedelta64 (kind and
# item size), and bytes, str and void (kind and length).
_PLAIN_DTYPE = re.compile(r'[biufcMm][0-9]{1,2}\Z|([SUV])([0-9]{1,10})\Z')
# numpy keeps an item size in a C int and wraps a larger one silently
# (numpy.dtype('V1000000000000') has the item size -727379968).
_MAX_ITEMSIZE = 2**31 - 1
_BYTE_ORDERS = frozenset('<>|=')
_DATETIME_UNITS = frozenset({
    'Y', 'M', 'W', 'D', 'h', 'm', 's', 'ms', 'us', 'ns', 'ps', 'fs', 'as',
    'generic'
})
# Classes that torch.save and numpy never pickle as a call and whose
# constructors allocate what their arguments say (``torch.Tensor(10**12)``,
# ``numpy.ndarray((10**12,))``, ``numpy.void(10**12)``).
_NEVER_CALLED = (np.ndarray, np.dtype, np.generic, torch.Tensor,
                 torch.UntypedStorage, torch.TypedStorage)


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint holds a global, call or state that mmpfcn does not allow
    to load."""


class UnreadableCheckpointError(RuntimeError):
    """A checkpoint file that is cut short or is no PyTorch checkpoint."""


class RefusedPickle(pickle.UnpicklingError):
    """What :class:`PickleCheck` refuses: a call or a rebuilt state that
    torch.save and numpy never write; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(f'mmpfcn refused the pickle: {reason}')
        self.reason = reason


def history_buffer_statistic(owner: Any, name: str) -> Callable:
    """Stand-in for ``builtins.getattr`` during weights-only loads.

    Pickle stores ``HistoryBuffer.mean`` as ``getattr(HistoryBuffer,
    'mean')``. Allow-listing ``getattr`` itself would let a checkpoint reach
    any attribute of any allowed object (module dicts, builtins, ...), so this
    resolves only HistoryBuffer's own statistics methods and refuses the rest.
    """
    if owner is HistoryBuffer and name in HISTORY_BUFFER_STATISTICS:
        return getattr(HistoryBuffer, name)
    owner_type = owner if isinstance(owner, type) else type(owner)
    raise pickle.UnpicklingError(
        f'Unsupported global: GLOBAL {owner_type.__module__}.'
        f'{owner_type.__qualname__}.{name} was not an allowed global '
        '(looked up through builtins.getattr).')


def pickled_empty_bytes() -> bytes:
    """Stand-in for ``builtins.bytes`` during weights-only loads.

    Pickle's protocol 2 writes ``b''`` (the data of an empty numpy array, an
    empty HistoryBuffer's) as ``bytes()`` and any other bytes as
    ``_codecs.encode(text, 'latin1')``. ``bytes`` itself would also build
    ``bytes(10**12)``, so this takes no argument.
    """
    return b''


def mmengine_safe_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    """The globals MMEngine/MMDetection checkpoints need beyond torch's
    defaults.

    Found on checkpoints saved by a Runner: the pickled globals with
    ``torch.serialization.get_unsafe_globals_in_checkpoint``, the dtype
    classes from the errors of loading them (numpy >= 1.25 restores a dtype
    as an instance of e.g. ``numpy.dtypes.Float64DType``, which the unpickler
    checks on BUILD and no static scan shows): the message hub's float64 log
    history and int64 counts.
    """
    return [
        HistoryBuffer,
        (history_buffer_statistic, 'builtins.getattr'),
        np.core.multiarray._reconstruct,
        np.core.multiarray.scalar,
        np.ndarray,
        np.dtype,
        type(np.dtype(np.float64)),
        type(np.dtype(np.int64)),
    ]


def plain_data_safe_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    """The globals of the other plain data a checkpoint's ``meta`` may hold.

    ``b''`` and empty numpy arrays (as :func:`pickled_empty_bytes`); numpy
    scalars and arrays of every dtype class but ``ObjectDType`` (an object
    array holds anything, and numpy sizes it before checking its data); and
    numpy >= 2's names of the rebuild functions, for files written with it.
    """
    runner_dtypes = {type(np.dtype(np.float64)), type(np.dtype(np.int64))}
    dtype_classes = {
        getattr(np.dtypes, name)
        for name in dir(np.dtypes) if name.endswith('DType')
    }
    return [
        (pickled_empty_bytes, 'builtins.bytes'),
        (np.core.multiarray._reconstruct,
         'numpy._core.multiarray._reconstruct'),
        (np.core.multiarray.scalar, 'numpy._core.multiarray.scalar'),
        *sorted(dtype_classes - runner_dtypes - {np.dtypes.ObjectDType},
                key=lambda dtype_class: dtype_class.__name__),
    ]


class _Global:
    """A global as the unpickler pushes it: its name and the object torch
    resolves the name to."""

    def __init__(self, name: str, obj: Any) -> None:
        self.name, self.obj = name, obj

    def __repr__(self) -> str:
        return self.name


class _Dtype:
    """A numpy dtype the unpickler would rebuild: ``numpy.dtype(spec)``, then
    its state (BUILD)."""

    def __init__(self, spec: str, dtype: np.dtype) -> None:
        self.spec, self.dtype, self.built = spec, dtype, False

    def __repr__(self) -> str:
        return f"numpy.dtype('{self.spec}')"


class _Array:
    """A numpy array the unpickler would rebuild: empty, then its state."""

    def __init__(self) -> None:
        self.built = False

    def __repr__(self) -> str:
        return 'numpy.ndarray'


class _Other:
    """Any other object; ``kind`` tells the dicts, lists and sets made by
    their own opcodes."""

    def __init__(self, kind: str = 'object') -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f'<{self.kind}>'


def _never_called(obj: Any) -> bool:
    """Whether ``obj`` is a class of :data:`_NEVER_CALLED` (a Parameter only
    wraps a tensor)."""
    return (isinstance(obj, type) and issubclass(obj, _NEVER_CALLED)
            and obj is not torch.nn.Parameter)


def _plain_dtype(spec: Any) -> Optional[np.dtype]:
    """``numpy.dtype(spec)`` if ``spec`` names a plain dtype of a size numpy
    can hold, else None."""
    match = _PLAIN_DTYPE.match(spec) if isinstance(spec, str) else None
    if match is None:
        return None
    kind, length = match.groups()
    if length is not None and int(length) * (4 if kind == 'U' else 1) > \
            _MAX_ITEMSIZE:
        return None
    try:
        return np.dtype(spec)
    except TypeError:
        return None


def _plain_datetime_metadata(metadata: Any) -> bool:
    """Whether ``metadata`` is what numpy pickles for a datetime64 or
    timedelta64 unit: ``({}, (unit, count, 1, 1))``."""
    if not (isinstance(metadata, tuple) and len(metadata) == 2
            and isinstance(metadata[0], _Other) and metadata[0].kind == 'dict'
            and isinstance(metadata[1], tuple) and len(metadata[1]) == 4):
        return False
    unit, count, *rest = metadata[1]
    return (isinstance(unit, bytes)
            and unit.decode('latin1') in _DATETIME_UNITS
            and isinstance(count, int) and 1 <= count <= _MAX_ITEMSIZE
            and rest == [1, 1])


def _is_checked(obj: Any) -> bool:
    """Whether :meth:`PickleCheck.call` checks the arguments of ``obj``, or
    refuses to call it at all."""
    checked = (pickled_empty_bytes, bytearray, _codecs.encode, np.dtype,
               np.core.multiarray._reconstruct, np.core.multiarray.scalar,
               torch._tensor._rebuild_from_type_v2)
    return any(obj is callable_ for callable_ in checked) or _never_called(obj)


def _call_text(name: str, args: Any) -> str:
    """``name(args...)`` as a short text for messages."""
    if isinstance(args, tuple):
        return f"{name}({', '.join(map(reprlib.repr, args))})"
    return f'{name}(*{reprlib.repr(args)})'


def _refused_call(func: Any, args: Any, why: str) -> RefusedPickle:
    return RefusedPickle(f'it calls {_call_text(repr(func), args)}, {why}')


class PickleCheck:
    """Walks a weights-only pickle as torch's unpickler would run it, rebuilds
    nothing, and raises :class:`RefusedPickle` at the first call or numpy
    state that no legitimate checkpoint holds.

    It reads every opcode as ``torch._weights_only_unpickler`` does, so both
    see the same program, and refuses what torch would refuse too: a global
    off the allow-lists (in torch's words, so the error names it) and an
    opcode that neither supports.
    """

    def __init__(self, file: IO[bytes]) -> None:
        self.read, self.readline = file.read, file.readline
        self.stack: List[Any] = []
        self.metastack: List[List[Any]] = []
        self.memo: Dict[int, Any] = {}
        self.done = False
        # torch looks a name up in its defaults first, then in the user's.
        self.allowed = {
            **_weights_only_unpickler._get_user_allowed_globals(),
            **_weights_only_unpickler._get_allowed_globals()
        }

    def run(self) -> None:
        """Check the pickle from the file's position to its STOP."""
        try:
            while not self.done:
                key = self.read(1)
                if not key:
                    raise EOFError('the pickle ends before its STOP opcode')
                handler = _HANDLERS.get(key[0])
                if handler is None:
                    raise RefusedPickle(
                        f'its pickle holds the opcode {key!r}, which '
                        'torch.save does not write')
                handler(self)
        except (EOFError, IndexError, KeyError, ValueError,
                struct.error) as error:
            raise RefusedPickle(
                'its pickle data is cut short or malformed '
                f'({type(error).__name__}: {error})') from error

    def push(self, value: Any) -> None:
        self.stack.append(value)

    def pop_mark(self) -> List[Any]:
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def pop_tuple(self, size: int) -> None:
        if len(self.stack) < size:
            raise IndexError('the stack holds too few items for a tuple')
        items = tuple(self.stack[len(self.stack) - size:])
        del self.stack[len(self.stack) - size:]
        self.push(items)

    def load_global(self) -> None:
        module, name = _weights_only_unpickler._read_global_instruction(
            self.readline)
        full_name = f'{module}.{name}'
        if (module in _weights_only_unpickler._blocklisted_modules
                or full_name not in self.allowed):
            shown = full_name.removeprefix('builtins.')  # as torch shows it
            raise pickle.UnpicklingError(f'Unsupported global: GLOBAL {shown} '
                                         'was not an allowed global')
        self.push(_Global(full_name, self.allowed[full_name]))

    def new_object(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        if isinstance(cls, _Global) and _never_called(cls.obj):
            raise RefusedPickle(
                f'it creates {_call_text(f"{cls!r}.__new__", args)}, a '
                'constructor that allocates what its arguments say; '
                'torch.save and numpy never write such a call')
        self.push(_Other())

    def reduce(self) -> None:
        args = self.stack.pop()
        self.stack[-1] = self.call(self.stack[-1], args)

    def build(self) -> None:
        state = self.stack.pop()
        target = self.stack[-1]
        if isinstance(target, _Dtype):
            self.build_dtype(target, state)
        elif isinstance(target, _Array):
            self.build_array(target, state)

    def call(self, func: Any, args: Any) -> Any:
        """What ``func(*args)`` (REDUCE) leaves on the stack."""
        target = func.obj if isinstance(func, _Global) else None
        if target is pickled_empty_bytes:
            if args != ():
                raise _refused_call(
                    func, args, 'a call that allocates what its argument '
                    "says; pickle writes b'' as bytes() and other bytes as "
                    "_codecs.encode(text, 'latin1')")
            return b''
        if target is bytearray:
            if args != () and not (isinstance(args, tuple) and len(args) == 1
                                   and isinstance(args[0], bytes)):
                raise _refused_call(
                    func, args, 'a call that allocates what its argument '
                    'says; pickle writes a bytearray as bytearray(<its '
                    'bytes>)')
            return _Other()
        if target is _codecs.encode:
            if (isinstance(args, tuple) and len(args) == 2
                    and isinstance(args[0], str) and args[1] == 'latin1'):
                return args[0].encode('latin1')
            return _Other()
        if target is np.dtype:
            return self.new_dtype(func, args)
        if target is np.core.multiarray._reconstruct:
            if not (isinstance(args, tuple) and len(args) == 3
                    and isinstance(args[0], _Global)
                    and isinstance(args[0].obj, type)
                    and issubclass(args[0].obj, np.ndarray)
                    and args[1] == (0, ) and args[2] == b'b'):
                raise _refused_call(
                    func, args, 'which allocates the shape it is given; numpy '
                    "writes _reconstruct(numpy.ndarray, (0,), b'b') and the "
                    "array's shape, dtype and data in its state")
            return _Array()
        if target is np.core.multiarray.scalar:
            return self.new_scalar(func, args)
        if target is torch._tensor._rebuild_from_type_v2:
            inner = args[0] if isinstance(args, tuple) and args else None
            if not isinstance(inner, _Global) or _is_checked(inner.obj):
                raise _refused_call(
                    func, args, 'which calls its first argument; torch.save '
                    'passes it a tensor rebuild function of torch._utils only')
            return _Other()
        if _never_called(target):
            raise _refused_call(
                func, args, 'a constructor that allocates what its '
                'arguments say; torch.save and numpy never write such a call')
        return _Other()

    def new_dtype(self, func: _Global, args: Any) -> _Dtype:
        spec = args[0] if isinstance(args, tuple) and len(args) == 3 else None
        dtype = _plain_dtype(spec)
        if isinstance(spec, str) and spec.startswith('O'):
            raise _refused_call(
                func, args, 'but mmpfcn loads numpy data without Python '
                'objects only (an object array can hold anything, and numpy '
                'sizes it before reading its items)')
        if dtype is None or not isinstance(args[1], bool) or \
                args[2] is not True:
            raise _refused_call(
                func, args, 'not how numpy pickles a dtype: '
                'numpy.dtype(name, False, True) with the name of a dtype it '
                "can hold ('f8', 'M8', 'U5', ...)")
        return _Dtype(spec, dtype)

    def new_scalar(self, func: _Global, args: Any) -> _Other:
        dtype = args[0] if isinstance(args, tuple) and len(args) == 2 else None
        if not (isinstance(dtype, _Dtype) and dtype.built
                and isinstance(args[1], bytes)
                and len(args[1]) == dtype.dtype.itemsize):
            raise _refused_call(
                func, args, 'not how numpy pickles a scalar: scalar(dtype, '
                'data) with exactly one item of data')
        return _Other()

    def build_dtype(self, dtype: _Dtype, state: Any) -> None:
        plain = dtype.dtype.__reduce__()[2]
        if dtype.built:
            raise RefusedPickle(f'it rebuilds {dtype!r} twice')
        if not (isinstance(state, tuple) and len(state) == len(plain)):
            raise RefusedPickle(
                f'it rebuilds {dtype!r} from the state {reprlib.repr(state)} '
                f"instead of numpy's {plain}")
        if state[2:5] != (None, None, None):
            raise RefusedPickle(
                f'it gives {dtype!r} fields or a sub-array '
                f'({reprlib.repr(state[2:5])}); mmpfcn loads numpy dtypes '
                'without them only, since numpy trusts the offsets and shapes '
                'given there, and a crafted file could make it read outside '
                'an array')
        if not (state[0] == plain[0] and state[1] in _BYTE_ORDERS
                and state[5:8] == plain[5:8] and
                (len(plain) == 8 or _plain_datetime_metadata(state[8]))):
            raise RefusedPickle(
                f'it rebuilds {dtype!r} from the state {reprlib.repr(state)} '
                f"instead of numpy's {plain}; numpy trusts the sizes and "
                'flags given there, and a crafted file could make it read or '
                'free memory outside an array')
        dtype.built = True

    def build_array(self, array: _Array, state: Any) -> None:
        if array.built:
            raise RefusedPickle('it rebuilds a numpy array twice')
        if not (isinstance(state, tuple) and len(state) == 5
                and state[0] == 1 and isinstance(state[1], tuple)
                and all(isinstance(size, int) and size >= 0
                        for size in state[1]) and isinstance(state[2], _Dtype)
                and state[2].built and isinstance(state[3], bool)
                and isinstance(state[4], bytes)):
            raise RefusedPickle(
                'it rebuilds a numpy array from the state '
                f'{reprlib.repr(state)} instead of numpy\'s (1, shape, '
                'dtype, fortran_order, data) with a rebuilt plain dtype')
        shape, itemsize = state[1], state[2].dtype.itemsize
        described = (f'a numpy array of shape {reprlib.repr(shape)} and '
                     f'dtype {state[2].dtype}')
        if math.prod(max(size, 1) for size in shape) * max(itemsize, 1) > \
                sys.maxsize:
            raise RefusedPickle(f'it declares {described}, more than memory '
                                'can address')
        if len(state[4]) != math.prod(shape) * itemsize:
            raise RefusedPickle(
                f'it declares {described} ({math.prod(shape) * itemsize} '
                f'bytes) but holds {len(state[4])} bytes of data')
        array.built = True


def _read_number(fmt: str, size: int) -> Callable[[PickleCheck], None]:
    return lambda check: check.push(struct.unpack(fmt, check.read(size))[0])


def _read_unicode(check: PickleCheck) -> None:
    length = struct.unpack('<I', check.read(4))[0]
    check.push(str(check.read(length), 'utf-8', 'surrogatepass'))


def _read_long(check: PickleCheck) -> None:
    length = check.read(1)[0]
    check.push(pickle.decode_long(check.read(length)))


def _skip_short_string(check: PickleCheck) -> None:
    check.read(check.read(1)[0])
    check.push(_Other('string'))


def _memo_get(size: int) -> Callable[[PickleCheck], None]:
    fmt = '<B' if size == 1 else '<I'
    return lambda check: check.push(
        check.memo[struct.unpack(fmt, check.read(size))[0]])


def _memo_put(size: int) -> Callable[[PickleCheck], None]:
    fmt = '<B' if size == 1 else '<I'

    def put(check: PickleCheck) -> None:
        check.memo[struct.unpack(fmt, check.read(size))[0]] = check.stack[-1]

    return put


def _persistent_id(check: PickleCheck) -> None:
    check.stack.pop()
    check.push(_Other('storage'))


def _set_item(check: PickleCheck) -> None:
    del check.stack[-2:]


def _stop(check: PickleCheck) -> None:
    check.done = True


def _mark(check: PickleCheck) -> None:
    check.metastack.append(check.stack)
    check.stack = []


# What each opcode that torch's weights-only unpickler supports does to the
# checked stack.
_HANDLERS: Dict[int, Callable[[PickleCheck], None]] = {
    pickle.PROTO[0]: lambda check: check.read(1),
    pickle.STOP[0]: _stop,
    pickle.GLOBAL[0]: PickleCheck.load_global,
    pickle.NEWOBJ[0]: PickleCheck.new_object,
    pickle.REDUCE[0]: PickleCheck.reduce,
    pickle.BUILD[0]: PickleCheck.build,
    pickle.APPEND[0]: lambda check: check.stack.pop(),
    pickle.APPENDS[0]: PickleCheck.pop_mark,
    pickle.SETITEM[0]: _set_item,
    pickle.SETITEMS[0]: PickleCheck.pop_mark,
    pickle.MARK[0]: _mark,
    pickle.TUPLE[0]: lambda check: check.push(tuple(check.pop_mark())),
    pickle.TUPLE1[0]: lambda check: check.pop_tuple(1),
    pickle.TUPLE2[0]: lambda check: check.pop_tuple(2),
    pickle.TUPLE3[0]: lambda check: check.pop_tuple(3),
    pickle.NONE[0]: lambda check: check.push(None),
    pickle.NEWFALSE[0]: lambda check: check.push(False),
    pickle.NEWTRUE[0]: lambda check: check.push(True),
    pickle.EMPTY_TUPLE[0]: lambda check: check.push(()),
    pickle.EMPTY_LIST[0]: lambda check: check.push(_Other('list')),
    pickle.EMPTY_DICT[0]: lambda check: check.push(_Other('dict')),
    pickle.EMPTY_SET[0]: lambda check: check.push(_Other('set')),
    pickle.BININT[0]: _read_number('<i', 4),
    pickle.BININT1[0]: _read_number('<B', 1),
    pickle.BININT2[0]: _read_number('<H', 2),
    pickle.BINFLOAT[0]: _read_number('>d', 8),
    pickle.LONG1[0]: _read_long,
    pickle.BINUNICODE[0]: _read_unicode,
    pickle.SHORT_BINSTRING[0]: _skip_short_string,
    pickle.BINPERSID[0]: _persistent_id,
    pickle.BINGET[0]: _memo_get(1),
    pickle.LONG_BINGET[0]: _memo_get(4),
    pickle.BINPUT[0]: _memo_put(1),
    pickle.LONG_BINPUT[0]: _memo_put(4),
}


class CheckedUnpickler(_weights_only_unpickler.Unpickler):
    """torch's weights-only unpickler, running :class:`PickleCheck` over the
    pickle before it rebuilds anything from it."""

    def __init__(self, file: IO[bytes], *, encoding: str = 'bytes') -> None:
        super().__init__(file, encoding=encoding)
        self.file = file

    def load(self) -> Any:
        start = self.file.tell()
        PickleCheck(self.file).run()
        self.file.seek(start)
        return super().load()


def check_checkpoint_file(filename: str) -> None:
    """Refuse a file that is cut short or no checkpoint, naming it: torch
    would fail with "failed finding central directory" and no file name."""
    with open(filename, 'rb') as file:
        head = file.read(4)
    if head == b'PK\x03\x04':
        if zipfile.is_zipfile(filename):
            return
        found = 'a zip archive without the central directory at its end'
    elif head[:1] == b'\x80':  # torch's legacy format: a series of pickles
        return
    elif not head:
        found = 'an empty file'
    else:
        found = f'it starts with {head!r}, neither a zip archive nor a pickle'
    raise UnreadableCheckpointError(
        f'Cannot load checkpoint {filename}: it is truncated or not a '
        f'PyTorch checkpoint ({found}). Copy or download it again (if a run '
        'is still writing it, wait until it has finished), or load another '
        'checkpoint.')


def load_from_local_weights_only(filename: str,
                                 map_location: Optional[Any] = None) -> Any:
    """Replacement for MMEngine's local-path checkpoint loader.

    Passes ``weights_only=True`` explicitly, so the environment variable
    ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` cannot switch the check off.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    check_checkpoint_file(filename)
    return torch.load(filename, map_location=map_location, weights_only=True)


def _refused_pickle(error: BaseException) -> Optional[RefusedPickle]:
    """The :class:`RefusedPickle` behind ``error``: torch re-raises every
    unpickling error as a new one, leaving the original as its context."""
    cause: Optional[BaseException] = error
    while cause is not None and not isinstance(cause, RefusedPickle):
        cause = cause.__context__
    return cause


def refusal_error(filename: str,
                  error: pickle.UnpicklingError) -> UnsafeCheckpointError:
    """Turn torch's unpickling error into one that names file and global,
    or file and refused call."""
    refused = _refused_pickle(error)
    if refused is not None:
        return UnsafeCheckpointError(
            f'Refusing to load checkpoint {filename}: {refused.reason}. '
            'Loading it could exhaust memory or corrupt the process. Save '
            'the checkpoint again with plain data only, or download it again '
            'from a source you trust.')
    match = _REJECTED_GLOBAL.search(str(error))
    if match is None:
        return UnsafeCheckpointError(
            f'Refusing to load checkpoint {filename}: the weights-only '
            f'unpickler rejected it ({error}).')
    return UnsafeCheckpointError(
        f"Refusing to load checkpoint {filename}: it contains the global "
        f"'{match.group(1) or match.group(2)}', which is not on mmpfcn's "
        'allow-list (mmpfcn.utils.checkpoint_safety.mmengine_safe_globals). '
        'Loading it could run code stored in the file. Only if you trust the '
        'file and the global is plain data, allow it with '
        'torch.serialization.add_safe_globals([...]).')


def _guard_checkpoint_loader() -> None:
    """Wrap ``CheckpointLoader.load_checkpoint``, the single entry point of
    ``Runner.resume``, ``Runner.load_checkpoint``, ``load_from`` and
    ``init_cfg=dict(type='Pretrained')``, for every URL scheme: refusals name
    the file, and the result is in MMEngine's form."""
    load_checkpoint = CheckpointLoader.load_checkpoint.__func__

    def guarded_load_checkpoint(cls,
                                filename: str,
                                map_location: Optional[Any] = None,
                                logger: str = 'current') -> Any:
        try:
            checkpoint = load_checkpoint(cls, filename, map_location, logger)
        except pickle.UnpicklingError as error:
            raise refusal_error(filename, error) from error
        return as_mmengine_checkpoint(checkpoint, filename)

    guarded_load_checkpoint.mmpfcn_guarded = True
    CheckpointLoader.load_checkpoint = classmethod(guarded_load_checkpoint)


def install_safe_checkpoint_loading() -> None:
    """Allow-list MMEngine's checkpoint globals and plain numpy data, check
    every weights-only pickle before it is run, and guard MMEngine's loaders.

    Called on ``import mmpfcn``; calling it again changes nothing.
    """
    torch.serialization.add_safe_globals(mmengine_safe_globals() +
                                         plain_data_safe_globals())
    _weights_only_unpickler.Unpickler = CheckedUnpickler
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local_weights_only, force=True)
    if not getattr(CheckpointLoader.load_checkpoint, 'mmpfcn_guarded', False):
        _guard_checkpoint_loader()
