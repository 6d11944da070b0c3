"""Checkpoints by URL: a download that is verified before it enters the cache.

MMEngine hands ``http(s)://`` checkpoints to ``torch.hub``, which neither checks
the hash suffix of the file name by default nor notices a connection that
closes early, so a truncated or corrupted file can land in the cache and break
every later run. This loader downloads into a temporary file next to the cache
entry, checks the byte count against ``Content-Length`` and the SHA-256 prefix
in the file name (``name-<sha256 prefix>.pth``, OpenMMLab's model-zoo naming),
and only then moves it into place; on any failure the partial file is removed
and the error names the URL. The cached file is loaded weights-only.
"""
import hashlib
import os
import os.path as osp
import re
import tempfile
import urllib.request
from typing import Any, Optional
from urllib.parse import urlparse

import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.runner.checkpoint import CheckpointLoader

HASH_SUFFIX = re.compile(r'-([a-f0-9]{8,64})\.[A-Za-z0-9]+$')
CHUNK = 1 << 20


class CheckpointDownloadError(RuntimeError):
    """A checkpoint URL could not be downloaded intact."""


def checkpoint_cache_dir() -> str:
    """Where downloaded checkpoints live: ``$TORCH_HOME/checkpoints``, as MMEngine uses."""
    return osp.join(torch.hub.get_dir(), 'checkpoints')


def download_checkpoint(url: str, cache_dir: Optional[str] = None, timeout: float = 60.0) -> str:
    """Download ``url`` into the cache once, verified; return the cached path."""
    cache_dir = cache_dir or checkpoint_cache_dir()
    os.makedirs(cache_dir, exist_ok=True)
    name = osp.basename(urlparse(url).path)
    if not name:
        raise CheckpointDownloadError(f'{url}: the URL does not name a file')
    cached = osp.join(cache_dir, name)
    if osp.isfile(cached):
        return cached
    match = HASH_SUFFIX.search(name)
    digest = hashlib.sha256()
    fd, partial = tempfile.mkstemp(prefix=name + '.', suffix='.partial', dir=cache_dir)
    try:
        received = 0
        with os.fdopen(fd, 'wb') as out, urllib.request.urlopen(url, timeout=timeout) as response:
            expected = response.headers.get('Content-Length')
            while True:
                chunk = response.read(CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
        if expected is not None and received != int(expected):
            raise CheckpointDownloadError(
                f'{url}: download truncated, got {received} of {expected} bytes; nothing was cached')
        if match and not digest.hexdigest().startswith(match.group(1)):
            raise CheckpointDownloadError(
                f'{url}: SHA-256 {digest.hexdigest()[:len(match.group(1))]} does not match the '
                f'hash suffix {match.group(1)} of the file name; nothing was cached')
        os.replace(partial, cached)
    except OSError as error:
        raise CheckpointDownloadError(f'{url}: download failed ({error}); nothing was cached') from error
    finally:
        if osp.exists(partial):
            os.remove(partial)
    return cached


def load_from_url(filename: str, map_location: Optional[Any] = None) -> Any:
    """``CheckpointLoader`` scheme for ``http://`` and ``https://``.

    In distributed runs rank 0 downloads and the others wait, as MMEngine does.
    """
    rank, world_size = get_dist_info()
    if rank == 0:
        cached = download_checkpoint(filename)
    if world_size > 1:
        barrier()
        if rank > 0:
            cached = download_checkpoint(filename)
    return torch.load(cached, map_location=map_location, weights_only=True)


def install_url_checkpoint_loading() -> None:
    """Route ``http(s)://`` checkpoints (``load_from``, ``--checkpoint``, ``init_cfg``) through here."""
    CheckpointLoader.register_scheme(prefixes=('http://', 'https://'), loader=load_from_url, force=True)
