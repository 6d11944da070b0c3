"""Wall-clock timing of named stages: of a model step
(``tools/analysis_tools/profile_panoptic_fcn.py``) or of a job
(``projects/synthetic/tools/main_job.py``).

:class:`StageTimer` measures named stages of repeated steps without touching
the model's code: submodules are timed by forward hooks, methods and callable
attributes by an instance-level wrapper, and code of the caller by
:meth:`StageTimer.stage`. Stages nest; a stage entered inside another is its
child, and the part of a stage that no child covers is reported as
``(other)``. On CUDA every boundary synchronises the device, so each stage
is charged with its own kernels (at the cost of serialising the GPU).
"""
import statistics
import time
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import torch
from torch import nn

Path = Tuple[str, ...]
OTHER = '(other)'
TOTAL = 'total'


class StageTimer:
    """Time nested stages over iterations and summarise them by their medians.

    Args:
        device (torch.device | str): Device of the model; CUDA devices are
            synchronised at every stage boundary.
    """

    def __init__(self, device: torch.device = torch.device('cpu')) -> None:
        device = torch.device(device)
        self._sync: Callable[[], None] = (lambda: torch.cuda.synchronize(device)) \
            if device.type == 'cuda' else (lambda: None)
        self._open: List[Tuple[Path, float]] = []
        self._current: Optional[Dict[Path, float]] = None
        self._order: Dict[Path, None] = {}
        self._undo: List[Callable[[], None]] = []
        self.iterations: List[Dict[Path, float]] = []

    # ---------------------------------------------------------------- timing
    def _start(self, name: str) -> None:
        if self._current is None:
            return
        parent = self._open[-1][0] if self._open else ()
        path = (*parent, name)
        self._order.setdefault(path)
        self._sync()
        self._open.append((path, time.perf_counter()))

    def _stop(self) -> None:
        if self._current is None or not self._open:
            return
        self._sync()
        path, start = self._open.pop()
        self._current[path] = self._current.get(path, 0.0) + time.perf_counter() - start

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the enclosed code as ``name`` (a child of the stage it runs in)."""
        self._start(name)
        try:
            yield
        finally:
            self._stop()

    def elapsed(self, name: str) -> float:
        """Seconds that stage ``name``, a child of the stage now open (or a
        top-level stage), has taken so far in the current iteration."""
        parent = self._open[-1][0] if self._open else ()
        return (self._current or {}).get((*parent, name), 0.0)

    @contextmanager
    def iteration(self) -> Iterator[None]:
        """Record one step; stages outside an iteration are not recorded."""
        self._current, self._open = {}, []
        self._sync()
        start = time.perf_counter()
        try:
            yield
        finally:
            self._sync()
            self._current[()] = time.perf_counter() - start
            self.iterations.append(self._current)
            self._current = None

    # ---------------------------------------------------------- attachments
    def time_module(self, module: nn.Module, name: str) -> None:
        """Time every forward call of ``module`` as ``name``."""
        pre = module.register_forward_pre_hook(lambda *_: self._start(name))
        post = module.register_forward_hook(lambda *_: self._stop(), always_call=True)
        self._undo += [pre.remove, post.remove]

    def time_attribute(self, owner: object, attr: str, name: str) -> None:
        """Time calls of ``owner.attr`` (a method or a callable object) as ``name``.

        The attribute is shadowed on the instance by a timed wrapper and
        restored by :meth:`detach`.
        """
        original = getattr(owner, attr)
        had_own = attr in vars(owner)

        def timed(*args, **kwargs):
            with self.stage(name):
                return original(*args, **kwargs)

        object.__setattr__(owner, attr, timed)
        self._undo.append(lambda: object.__setattr__(owner, attr, original) if had_own
                          else object.__delattr__(owner, attr))

    def detach(self) -> None:
        """Remove all hooks and wrappers, latest first."""
        while self._undo:
            self._undo.pop()()

    # -------------------------------------------------------------- summary
    def summary(self, warmup: int = 0) -> List[dict]:
        """Rows of the stage tree, depth first, after dropping ``warmup`` iterations.

        Each row has ``name``, ``path``, ``depth``, ``median_ms`` (median over
        iterations of the stage's time in an iteration, all its calls
        summed), ``mean_ms`` and ``percent``. The first row is the whole step
        (``total``); every stage with children gets an ``(other)`` child for
        the time none of them covers. Percentages are shares of the summed
        medians of the top-level rows (which is close to the median total),
        so the top-level rows add up to 100 and the children of a stage to
        its own share.
        """
        runs = self.iterations[warmup:]
        if not runs:
            raise ValueError(f'StageTimer: no iterations after {warmup} warm-up ones '
                             f'({len(self.iterations)} recorded)')
        paths = [()] + [p for p in self._order if p]
        children: Dict[Path, List[Path]] = {p: [] for p in paths}
        for path in paths[1:]:
            children[path[:-1]].append(path)
        for path in paths:
            if children[path]:
                other = (*path, OTHER)
                for run in runs:
                    run[other] = run.get(path, 0.0) - sum(run.get(c, 0.0) for c in children[path])
                children[path].append(other)
                children[other] = []

        def stats(path: Path) -> Tuple[float, float]:
            values = [run.get(path, 0.0) * 1e3 for run in runs]
            return statistics.median(values), statistics.fmean(values)

        scale = sum(stats(c)[0] for c in children[()]) or stats(())[0] or 1.0
        rows = []

        def visit(path: Path) -> None:
            median, mean = stats(path)
            rows.append(dict(name=path[-1] if path else TOTAL, path='/'.join(path) or TOTAL,
                             depth=len(path), median_ms=median, mean_ms=mean,
                             percent=100.0 * median / scale))
            for child in children[path]:
                visit(child)

        visit(())
        return rows

