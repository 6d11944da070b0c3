"""Each inference part reads its own keys of the detector's ``test_cfg``."""
from typing import Any, Iterable, Mapping, Optional

from mmengine.config import ConfigDict

# Keys that count (candidates, instances): a positive int for every part that reads them.
POSITIVE_COUNTS = frozenset({'max_per_img'})


def is_number(value: Any) -> bool:
    """An int or a float, not a bool (which would compare as 0 or 1)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def own_test_cfg(owner: str, defaults: Mapping, test_cfg: Optional[Mapping],
                 unit_interval: Iterable[str] = ()) -> ConfigDict:
    """The keys of ``defaults`` taken from ``test_cfg`` where it gives them (others ignored);
    a key of ``unit_interval`` that is not a number in [0, 1], or a key of ``POSITIVE_COUNTS``
    that is not a positive int, is a ``ValueError`` naming ``owner`` and ``test_cfg.<key>``."""
    cfg = ConfigDict({**defaults, **{
        key: value for key, value in (test_cfg or {}).items() if key in defaults}})
    for key in unit_interval:
        if not (is_number(cfg[key]) and 0.0 <= cfg[key] <= 1.0):
            raise ValueError(f'{owner}: test_cfg.{key} must be in [0, 1], got {cfg[key]!r}')
    for key in POSITIVE_COUNTS.intersection(cfg):
        if not (is_number(cfg[key]) and isinstance(cfg[key], int) and cfg[key] > 0):
            raise ValueError(f'{owner}: test_cfg.{key} must be a positive int, got {cfg[key]!r}')
    return cfg
