"""mmpfcn's model zoo by name: the entries of its ``model-index.yml``.

``model-index.yml`` imports the metafiles (``configs/*/metafile.yml``) whose
``Models`` name each model, its old names (``Alias``), its config and its
weights. It sits at the repository root in a clone or a develop install and
under ``mmpfcn/.mim/`` in a wheel (see ``setup.py``).

:func:`find_model` looks a name up; :func:`install_metafile_model_lookup`
makes MMEngine's inferencers (``DetInferencer(model='<name>')``) look there
before the metafiles of their scope's package (mmdet), which is all MMEngine
itself searches.
"""
import difflib
import functools
import os.path as osp
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

import yaml
from mmengine.config import Config
from mmengine.infer import BaseInferencer

_PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))


class UnknownModelError(KeyError, ValueError):
    """A model name that no metafile entry has as name or alias.

    A ``KeyError`` for a failed look-up, and a ``ValueError`` like MMEngine's
    own ``Cannot find model`` so callers of the inferencers catch it as
    before.
    """

    def __str__(self) -> str:
        # KeyError would show the message quoted as a repr.
        return str(self.args[0])


@dataclass(frozen=True)
class ModelEntry:
    """One model of the metafiles.

    Attributes:
        name (str): the metafile ``Name``.
        aliases (tuple[str]): its ``Alias`` names (older names).
        config (str): absolute path of its config.
        weights (str, optional): its ``Weights`` URL (the first if a list),
            None if the entry has none.
        raw (dict): the metafile entry as read.
    """
    name: str
    aliases: Tuple[str, ...]
    config: str
    weights: Optional[str]
    raw: dict


def model_index_path() -> str:
    """Path of mmpfcn's ``model-index.yml``: the repository root's, else the
    copy a wheel carries under ``mmpfcn/.mim``."""
    candidates = (osp.join(osp.dirname(_PACKAGE_DIR), 'model-index.yml'),
                  osp.join(_PACKAGE_DIR, '.mim', 'model-index.yml'))
    for path in candidates:
        if osp.isfile(path):
            return path
    raise FileNotFoundError(
        'mmpfcn has no model-index.yml; looked at ' + ', '.join(candidates))


def _read_yaml(path: str) -> dict:
    with open(path, encoding='utf-8') as f:
        return yaml.safe_load(f) or {}


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def iter_models() -> Iterator[ModelEntry]:
    """Every model of the metafiles that ``model-index.yml`` imports (and of
    its own ``Models``), in file order."""
    index_path = model_index_path()
    root = osp.dirname(index_path)
    index = _read_yaml(index_path)
    imported = _as_list(index.get('Import'))
    metafiles = [index] + [_read_yaml(osp.join(root, p)) for p in imported]
    for metafile in metafiles:
        for raw in _as_list(metafile.get('Models')):
            weights = _as_list(raw.get('Weights'))
            yield ModelEntry(
                name=raw['Name'],
                aliases=tuple(_as_list(raw.get('Alias'))),
                config=osp.abspath(osp.join(root, raw['Config'])),
                weights=weights[0] if weights else None,
                raw=raw)


def find_model(name: str) -> ModelEntry:
    """The model whose name or alias is ``name`` (case-insensitive, as
    MMEngine matches them).

    Raises:
        UnknownModelError: no entry has that name; the message lists the
            closest known names.
    """
    entries = list(iter_models())
    wanted = name.lower()
    for entry in entries:
        if wanted in (n.lower() for n in (entry.name, *entry.aliases)):
            return entry
    known: List[str] = [n for e in entries for n in (e.name, *e.aliases)]
    close = difflib.get_close_matches(wanted, known, n=3, cutoff=0.5)
    hint = (f'closest known names: {", ".join(close)}'
            if close else f'known names: {", ".join(e.name for e in entries)}')
    raise UnknownModelError(
        f'Unknown model {name!r}: no entry of {model_index_path()} has this '
        f'name or alias; {hint}')


def install_metafile_model_lookup() -> None:
    """Make ``BaseInferencer._load_model_from_metafile`` look a model name up
    in mmpfcn's metafiles first and fall back to MMEngine's look-up in its
    scope's package; a name neither knows raises :class:`UnknownModelError`.
    Calling it again changes nothing."""
    mmengine_lookup = BaseInferencer._load_model_from_metafile
    if getattr(mmengine_lookup, '_mmpfcn_model_index', False):
        return

    @functools.wraps(mmengine_lookup)
    def load_model_from_metafile(self: BaseInferencer,
                                 model: str) -> Tuple[Config, Optional[str]]:
        try:
            entry = find_model(model)
        except UnknownModelError as ours:
            try:
                return mmengine_lookup(self, model)
            except ValueError as theirs:
                raise ours from theirs
        return Config.fromfile(entry.config), entry.weights

    load_model_from_metafile._mmpfcn_model_index = True
    BaseInferencer._load_model_from_metafile = load_model_from_metafile
