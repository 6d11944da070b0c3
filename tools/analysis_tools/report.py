"""How the analysis tools write what they measured: the one table formatter
(for the terminal and for ``docs/benchmark.md``) and the heading and format
of each figure of :mod:`mmpfcn.apis.benchmark`."""
from typing import Callable, Dict, Optional, Sequence, Tuple

from mmpfcn.apis.benchmark import PQ_KEYS


def format_table(header: Sequence[str],
                 rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table whose columns are padded so that it also lines up
    as plain text; a ``|`` inside a cell is escaped."""
    cells = [[cell.replace('|', '\\|') for cell in row]
             for row in (header, *rows)]
    widths = [
        max(3, *(len(row[column]) for row in cells))
        for column in range(len(header))
    ]

    def line(row: Sequence[str]) -> str:
        return '| ' + ' | '.join(
            cell.ljust(width) for cell, width in zip(row, widths)) + ' |'

    rule = line(['-' * width for width in widths])
    return '\n'.join([line(cells[0]), rule] + [line(row) for row in cells[1:]])


def si(value: float) -> str:
    """``value`` with a k / M / G / T prefix."""
    for prefix, scale in (('T', 1e12), ('G', 1e9), ('M', 1e6), ('k', 1e3)):
        if abs(value) >= scale:
            return f'{value / scale:.2f}{prefix}'
    return f'{value:.0f}'


def milliseconds(value: float) -> str:
    """A latency in ms."""
    return f'{value:.1f} ms'


# Heading and format of every figure a benchmark record holds.
FIGURE_COLUMNS: Dict[str, Tuple[str, Callable[[float], str]]] = dict(
    params=('params', si),
    flops=('FLOPs', si),
    forward_median_ms=('forward median', milliseconds),
    forward_p90_ms=('forward p90', milliseconds),
    e2e_median_ms=('e2e median', milliseconds),
    e2e_p90_ms=('e2e p90', milliseconds),
    img_per_s=('img/s', lambda v: f'{v:.2f}'),
    peak_mem_mib=('peak mem', lambda v: f'{v:.0f} MiB'),
    **{key: (key, lambda v: f'{v:.1f}') for key in PQ_KEYS})


def format_figure(key: str, value: Optional[float]) -> str:
    """A figure in its column's format, or ``n/a``."""
    return 'n/a' if value is None else FIGURE_COLUMNS[key][1](value)
