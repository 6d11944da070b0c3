"""Class counts are declared once, on the detector, and handed down to its parts."""
from typing import Any, Dict


def with_class_counts(cfg: Dict[str, Any], path: str, **counts: int) -> Dict[str, Any]:
    """``cfg`` with ``counts`` (``num_things_classes=...``) filled in; a count it already gives
    must agree, else a ``ValueError`` names the key ``path.<count>``."""
    for key, value in counts.items():
        if key in cfg and cfg[key] != value:
            raise ValueError(f'{path}.{key}={cfg[key]} disagrees with {key}={value} of the model; '
                             f'declare class counts once, as model.{key}')
    return {**cfg, **counts}
