"""Download a model-zoo checkpoint by name and write it as an MMDetection checkpoint.

Looks the name (or alias) up in the metafiles, downloads the entry's
``Weights`` (Google Drive links included) into the checkpoint cache, checks
the entry's ``Weights Size`` (bytes) and ``Weights SHA256`` where the metafile
records them, converts the weights for the entry's config, and writes into
``--out-dir``:

- ``<name>-<sha256[:8]>.pth``: the MMEngine checkpoint, with COCO panoptic's
  ``dataset_meta``;
- ``<name>.py``: the entry's config, flattened (``Config.dump``);
- ``<name>.json``: size and SHA-256 of both written files and of the download.

``tools/test.py <name>.py <name>-<sha>.pth`` and
``DetInferencer(model='<name>.py', weights='<name>-<sha>.pth')`` take them as
they are.

Example::

    python tools/misc/download_checkpoint.py panoptic-fcn_r50_fpn_8xb2-ms-3x_coco --out-dir checkpoints
"""
import argparse
import hashlib
import io
import json
import os.path as osp
import sys
from typing import List, Optional

import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import load_checkpoint, weights_to_cpu

import mmpfcn  # noqa: F401  (registers the models, installs the checkpoint loaders)
from mmpfcn.models.utils import IncompatibleCheckpointError
from mmpfcn.utils import atomic_write
from mmpfcn.utils.checkpoint_download import (CheckpointDownloadError, download_checkpoint,
                                              file_digest)
from mmpfcn.utils.model_index import UnknownModelError, find_model

# Metafile fields of a model entry that record its Weights file as downloaded.
SIZE_FIELD = 'Weights Size'
SHA256_FIELD = 'Weights SHA256'


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('name', help='model name or alias of the metafiles')
    parser.add_argument('--out-dir', default='checkpoints', help='where to write the files')
    return parser.parse_args(argv)


def write_bytes(path: str, data: bytes) -> dict:
    """Write ``data`` atomically; its file name, size and SHA-256."""
    with atomic_write(path) as file:
        file.write(data)
    return dict(file=osp.basename(path), size=len(data), sha256=hashlib.sha256(data).hexdigest())


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    try:
        entry = find_model(args.name)
        if not entry.weights:
            raise CheckpointDownloadError(f'model {entry.name!r} has no Weights in its metafile')
        cached = download_checkpoint(entry.weights, size=entry.raw.get(SIZE_FIELD),
                                     sha256=entry.raw.get(SHA256_FIELD))
    except (UnknownModelError, CheckpointDownloadError) as error:
        sys.exit(f'download_checkpoint: {error}')
    size, sha256 = file_digest(cached)
    print(f'{entry.weights}: {size} bytes, sha256 {sha256}, cached as {cached}')
    if SHA256_FIELD not in entry.raw:
        print(f'(not in the metafile yet: "{SIZE_FIELD}: {size}" and "{SHA256_FIELD}: {sha256}")')

    cfg = Config.fromfile(entry.config)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = MODELS.build(cfg.model)
    # Through the URL, which hits the cache: the model converts an authors' file in place
    # for this config and names the URL if it does not fit.
    try:
        checkpoint = load_checkpoint(model, entry.weights, map_location='cpu', strict=True)
    except IncompatibleCheckpointError as error:
        sys.exit(f'download_checkpoint: {entry.name} ({entry.config}): {error}')
    meta = dict(checkpoint.get('meta', {}), model=entry.name, source=entry.weights,
                source_size=size, source_sha256=sha256)
    buffer = io.BytesIO()
    torch.save({'state_dict': weights_to_cpu(model.state_dict()), 'meta': meta}, buffer)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    written = dict(
        model=entry.name,
        checkpoint=write_bytes(osp.join(args.out_dir, f'{entry.name}-{digest[:8]}.pth'), data),
        config=write_bytes(osp.join(args.out_dir, f'{entry.name}.py'), cfg.dump().encode()),
        source=dict(url=entry.weights, size=size, sha256=sha256))
    record = osp.join(args.out_dir, f'{entry.name}.json')
    with atomic_write(record, 'w', encoding='utf-8') as file:
        json.dump(written, file, indent=2)
    for kind in ('checkpoint', 'config'):
        info = written[kind]
        print(f'wrote {osp.join(args.out_dir, info["file"])}: {info["size"]} bytes, '
              f'sha256 {info["sha256"]}')
    print(f'recorded in {record}')


if __name__ == '__main__':
    main()
