"""Each inference part reads its own keys of the detector's ``test_cfg``."""
from typing import Iterable, Mapping, Optional

from mmengine.config import ConfigDict


def own_test_cfg(owner: str, defaults: Mapping, test_cfg: Optional[Mapping],
                 unit_interval: Iterable[str] = ()) -> ConfigDict:
    """The keys of ``defaults`` taken from ``test_cfg`` where it gives them (others ignored);
    a key of ``unit_interval`` outside [0, 1] is a ``ValueError`` naming ``owner`` and
    ``test_cfg.<key>``."""
    cfg = ConfigDict({**defaults, **{
        key: value for key, value in (test_cfg or {}).items() if key in defaults}})
    for key in unit_interval:
        if not 0.0 <= cfg[key] <= 1.0:
            raise ValueError(f'{owner}: test_cfg.{key} must be in [0, 1], got {cfg[key]}')
    return cfg
