"""Weights-only checkpoint loading that works with MMEngine's own checkpoints.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``: a restricted
unpickler that only rebuilds tensors, containers and allow-listed globals.
MMEngine 0.10.7 calls ``torch.load`` without ``weights_only``, so resuming or
loading one of its checkpoints fails on the non-tensor objects it stores: the
message hub's ``HistoryBuffer`` (holding numpy arrays and the buffer's
statistics methods, pickled as ``getattr(HistoryBuffer, 'mean')``) and numpy
scalars such as the ETA.

:func:`install_safe_checkpoint_loading` allow-lists exactly those objects and
makes every refusal name the file and the rejected global. It never loads with
``weights_only=False``: nothing in a checkpoint gets to run. The same guard
hands every loaded checkpoint to
:func:`~.checkpoint_format.as_mmengine_checkpoint`, so the authors'
detectron2 files load as MMEngine checkpoints and a refused state dict names
its source.
"""
import os.path as osp
import pickle
import re
from typing import Any, Callable, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from .checkpoint_format import as_mmengine_checkpoint

# The statistics methods HistoryBuffer registers for itself and pickles along
# with every buffer (see ``HistoryBuffer._set_default_statistics``).
HISTORY_BUFFER_STATISTICS = frozenset({'min', 'max', 'current', 'mean'})

# torch names a rejected global in its GLOBAL check, and a rejected class of
# an object being rebuilt (BUILD) as "but got <class '...'>".
_REJECTED_GLOBAL = re.compile(r"GLOBAL (\S+)|but got <class '([^']+)'>")


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint holds a global that mmpfcn does not allow to load."""


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


def load_from_local_weights_only(filename: str,
                                 map_location: Optional[Any] = None) -> Any:
    """Replacement for MMEngine's local-path checkpoint loader.

    Passes ``weights_only=True`` explicitly, so the environment variable
    ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` cannot switch the check off.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=True)


def refusal_error(filename: str,
                  error: pickle.UnpicklingError) -> UnsafeCheckpointError:
    """Turn torch's unpickling error into one that names file and global."""
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
    """Allow-list MMEngine's checkpoint globals and guard its loaders.

    Called on ``import mmpfcn``; calling it again changes nothing.
    """
    torch.serialization.add_safe_globals(mmengine_safe_globals())
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local_weights_only, force=True)
    if not getattr(CheckpointLoader.load_checkpoint, 'mmpfcn_guarded', False):
        _guard_checkpoint_loader()
