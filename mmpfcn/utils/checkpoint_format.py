"""Every loaded checkpoint in MMEngine's form, its state dict naming its source.

The guarded ``CheckpointLoader.load_checkpoint`` (:mod:`.checkpoint_safety`)
passes what it loaded, from a path or a URL, through
:func:`as_mmengine_checkpoint`:

- an authors' Panoptic FCN file (detectron2's ``{'model': state_dict, ...}``,
  or the bare state dict) becomes ``{'state_dict': ..., 'meta':
  {'dataset_meta': <COCO panoptic>}}``, so ``load_from``, ``--checkpoint``,
  ``init_detector`` and ``DetInferencer`` take it and name COCO's classes. The
  keys keep the authors' names: only the model knows which of their variants
  it builds, so ``PanopticFCN`` converts them when the state dict is loaded;
- the state dict's metadata, which torch hands to each module's
  ``_load_from_state_dict``, records the file or URL under
  :data:`SOURCE_KEY`, so a load that the model refuses names it
  (:func:`checkpoint_source`).
"""
from collections import OrderedDict
from typing import Any, Mapping

from .coco_panoptic_meta import coco_panoptic_dataset_meta

# Head tensors that every Panoptic FCN model of the authors has, whatever its variant.
AUTHORS_HEAD_KEYS = (
    'position_head.out_inst.weight',
    'position_head.out_sem.weight',
    'kernel_head.out_conv.weight',
    'thing_generator.embed_extractor.weight',
    'stuff_generator.embed_extractor.weight',
)
SOURCE_KEY = 'source'


def is_authors_state_dict(state: Any) -> bool:
    """Whether ``state`` is the state dict of an authors' Panoptic FCN model."""
    return isinstance(state, Mapping) and all(key in state for key in AUTHORS_HEAD_KEYS)


def with_source(state: Mapping, source: str) -> 'OrderedDict[str, Any]':
    """``state`` (an ``OrderedDict``, made one if needed) with ``source`` in the
    metadata of its root module; the metadata of the other modules is kept."""
    tagged = state if isinstance(state, OrderedDict) else OrderedDict(state)
    metadata = OrderedDict(getattr(state, '_metadata', None) or {})
    metadata[''] = {**metadata.get('', {}), SOURCE_KEY: source}
    tagged._metadata = metadata
    return tagged


def checkpoint_source(local_metadata: Mapping) -> str:
    """The file or URL recorded by :func:`with_source`, for error messages."""
    return local_metadata.get(SOURCE_KEY, 'the checkpoint')


def as_mmengine_checkpoint(checkpoint: Any, source: str) -> Any:
    """``checkpoint`` as MMEngine loads it, its state dict tagged with ``source``.

    An authors' file is re-wrapped with COCO panoptic's ``dataset_meta`` (their
    training data); its optimizer and scheduler state are dropped. Anything
    that is not a dict is returned unchanged.
    """
    if not isinstance(checkpoint, dict):
        return checkpoint
    if 'state_dict' not in checkpoint:
        authors = checkpoint.get('model', checkpoint)
        if is_authors_state_dict(authors):
            checkpoint = dict(state_dict=authors,
                              meta=dict(dataset_meta=coco_panoptic_dataset_meta(),
                                        source_format='detectron2 (Panoptic FCN authors)'))
    if isinstance(checkpoint.get('state_dict'), Mapping):
        return {**checkpoint, 'state_dict': with_source(checkpoint['state_dict'], source)}
    return with_source(checkpoint, source)
