"""Checkpoints by URL: a download that is verified before it enters the cache.

MMEngine hands ``http(s)://`` checkpoints to ``torch.hub``, which neither checks
the hash suffix of the file name by default nor notices a connection that
closes early, so a truncated or corrupted file can land in the cache and break
every later run; it also stores whatever the server sends, so a Google Drive
share link (where the authors' Panoptic FCN weights live) caches Drive's HTML
page. This loader

- resolves a Drive share link (``.../file/d/<id>/view``, ``open?id=<id>``,
  ``uc?id=<id>``) to its download, and follows the confirmation page that
  Drive shows for large files (any HTML page whose form or link carries a
  ``confirm`` token, with the cookies it set); an HTML page that leads to no
  file is an error;
- downloads into a hidden temporary file in the cache directory and checks
  it there: the byte count against ``Content-Length``, the SHA-256 prefix in
  the file name (``name-<sha256 prefix>.pth``, OpenMMLab's model-zoo naming),
  the size and SHA-256 a caller expects, and that the content is a PyTorch
  checkpoint (a complete zip archive or a pickle), not a web page;
- only then renames it into the cache, one entry per URL
  (:func:`cache_name`), so a second load does not download again. On any
  failure the partial file is removed and the error names the URL.

The cached file is loaded weights-only.
"""
import hashlib
import http.client
import os
import os.path as osp
import re
import tempfile
import urllib.request
import zipfile
from html.parser import HTMLParser
from http.cookiejar import CookieJar
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, parse_qsl, urlencode, urljoin, urlparse, urlsplit, urlunsplit

import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.runner.checkpoint import CheckpointLoader

HASH_SUFFIX = re.compile(r'-([a-f0-9]{8,64})\.[A-Za-z0-9]+$')
CHUNK = 1 << 20
# HTML pages followed towards one file (Drive shows one), and how much of each is read.
MAX_PAGES = 3
MAX_PAGE_BYTES = 1 << 20
DRIVE_HOSTS = ('drive.google.com', 'docs.google.com')
DRIVE_DOWNLOAD = 'https://drive.google.com/uc?export=download&id={}'


class CheckpointDownloadError(RuntimeError):
    """A checkpoint URL could not be downloaded intact."""


def checkpoint_cache_dir() -> str:
    """Where downloaded checkpoints live: ``$TORCH_HOME/hub/checkpoints``, as MMEngine uses."""
    return osp.join(torch.hub.get_dir(), 'checkpoints')


def drive_file_id(url: str) -> Optional[str]:
    """The file id of a Google Drive link, None for any other URL."""
    parsed = urlparse(url)
    if parsed.hostname not in DRIVE_HOSTS:
        return None
    match = re.match(r'/file/d/([\w-]+)', parsed.path)
    if match:
        return match.group(1)
    return parse_qs(parsed.query).get('id', [None])[0]


def cache_name(url: str) -> str:
    """Name of ``url``'s cache entry: a Drive file by its id (every link form of one
    file shares it); any other URL by a hash of the whole URL and its file name, so
    two URLs never share an entry."""
    file_id = drive_file_id(url)
    if file_id:
        return f'gdrive-{file_id}.pth'
    name = osp.basename(urlparse(url).path)
    if not name:
        raise CheckpointDownloadError(f'{url}: the URL does not name a file')
    return f'{hashlib.sha256(url.encode()).hexdigest()[:12]}-{name}'


class _ConfirmationParser(HTMLParser):
    """The forms (action, method, hidden inputs) and ``confirm`` links of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: List[Tuple[str, str, Dict[str, str]]] = []
        self.links: List[str] = []

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        found = {name: value or '' for name, value in attrs}
        if tag == 'form':
            self.forms.append((found.get('action', ''), (found.get('method') or 'get').lower(), {}))
        elif tag == 'input' and self.forms and found.get('type') == 'hidden' and found.get('name'):
            self.forms[-1][2][found['name']] = found.get('value', '')
        elif tag == 'a' and 'confirm=' in found.get('href', ''):
            self.links.append(found['href'])


def confirmation_target(page: str, page_url: str) -> Optional[str]:
    """Where a download confirmation page leads: a GET form with a hidden ``confirm``
    input (its action and hidden inputs), else a link with a ``confirm`` token; None if
    the page has neither."""
    parser = _ConfirmationParser()
    parser.feed(page)
    for action, method, fields in parser.forms:
        if method == 'get' and 'confirm' in fields:
            target = urlsplit(urljoin(page_url, action))
            query = urlencode(parse_qsl(target.query) + list(fields.items()))
            return urlunsplit(target._replace(query=query))
    return urljoin(page_url, parser.links[0]) if parser.links else None


def _html_page_error(url: str, hint: str = '') -> CheckpointDownloadError:
    return CheckpointDownloadError(
        f'{url}: the server returned an HTML page, not a checkpoint{hint}; nothing was cached')


def _is_html(response: http.client.HTTPResponse) -> bool:
    return response.headers.get_content_type() in ('text/html', 'application/xhtml+xml')


def open_download(url: str, timeout: float) -> http.client.HTTPResponse:
    """The response that carries ``url``'s file, after Drive's link resolution and up
    to :data:`MAX_PAGES` confirmation pages; an HTML page leading nowhere is an error."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    file_id = drive_file_id(url)
    target = DRIVE_DOWNLOAD.format(file_id) if file_id else url
    for _ in range(MAX_PAGES + 1):
        response = opener.open(target, timeout=timeout)
        if not _is_html(response):
            return response
        with response:
            charset = response.headers.get_content_charset() or 'utf-8'
            page = response.read(MAX_PAGE_BYTES).decode(charset, errors='replace')
            target = confirmation_target(page, response.geturl())
        if target is None:
            hint = (' (is the file shared with "anyone with the link", and its download quota '
                    'not exhausted?)' if file_id else '')
            raise _html_page_error(url, hint)
    raise CheckpointDownloadError(f'{url}: still an HTML page after {MAX_PAGES} confirmation '
                                  'pages; nothing was cached')


def _check_is_checkpoint(path: str, url: str) -> None:
    """Refuse a file that is not a PyTorch checkpoint: torch's zip format (complete,
    with its central directory) or its legacy pickle format."""
    with open(path, 'rb') as file:
        head = file.read(64)
    if head.startswith(b'PK\x03\x04') and zipfile.is_zipfile(path):
        return
    if head.startswith(b'\x80'):
        return
    if head.lstrip().lower().startswith((b'<!doctype html', b'<html')):
        raise _html_page_error(url)
    raise CheckpointDownloadError(f'{url}: the download is not a PyTorch checkpoint (it starts '
                                  f'with {head[:16]!r}, or the archive is incomplete); nothing '
                                  'was cached')


def file_digest(path: str) -> Tuple[int, str]:
    """Size in bytes and SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, 'rb') as file:
        for chunk in iter(lambda: file.read(CHUNK), b''):
            digest.update(chunk)
    return osp.getsize(path), digest.hexdigest()


def expected_mismatch(size: int, sha256: str, expected_size: Optional[int],
                      expected_sha256: Optional[str]) -> Optional[str]:
    """How a file's size and SHA-256 differ from the expected ones (None: not checked),
    or None if they agree."""
    if expected_size is not None and size != int(expected_size):
        return f'{size} bytes, expected {expected_size}'
    if expected_sha256 is not None and sha256 != expected_sha256.lower():
        return f'SHA-256 {sha256}, expected {expected_sha256}'
    return None


def _fetch(url: str, partial: str, timeout: float) -> Tuple[int, str]:
    """Write ``url``'s file to ``partial``; its size and SHA-256. Refuses a short read."""
    digest = hashlib.sha256()
    received = 0
    with open(partial, 'wb') as out, open_download(url, timeout) as response:
        expected = response.headers.get('Content-Length')
        for chunk in iter(lambda: response.read(CHUNK), b''):
            out.write(chunk)
            digest.update(chunk)
            received += len(chunk)
    if expected is not None and received != int(expected):
        raise CheckpointDownloadError(
            f'{url}: download truncated, got {received} of {expected} bytes; nothing was cached')
    return received, digest.hexdigest()


def download_checkpoint(url: str,
                        cache_dir: Optional[str] = None,
                        timeout: float = 60.0,
                        size: Optional[int] = None,
                        sha256: Optional[str] = None) -> str:
    """Download ``url`` into the cache once, verified; return the cached path.

    ``size`` (bytes) and ``sha256``, where known, are checked before the file enters
    the cache, and against the cache entry when it exists already.
    """
    cache_dir = cache_dir or checkpoint_cache_dir()
    os.makedirs(cache_dir, exist_ok=True)
    name = cache_name(url)
    cached = osp.join(cache_dir, name)
    if osp.isfile(cached):
        mismatch = (size is not None or sha256 is not None) and expected_mismatch(
            *file_digest(cached), size, sha256)
        if mismatch:
            raise CheckpointDownloadError(f'{url}: the cached file {cached} has {mismatch}; '
                                          'delete it to download again')
        return cached
    suffix = HASH_SUFFIX.search(osp.basename(urlparse(url).path))
    fd, partial = tempfile.mkstemp(prefix=f'.{name}.', suffix='.partial', dir=cache_dir)
    os.close(fd)
    try:
        received, digest = _fetch(url, partial, timeout)
        if suffix and not digest.startswith(suffix.group(1)):
            raise CheckpointDownloadError(
                f'{url}: SHA-256 {digest[:len(suffix.group(1))]} does not match the '
                f'hash suffix {suffix.group(1)} of the file name; nothing was cached')
        mismatch = expected_mismatch(received, digest, size, sha256)
        if mismatch:
            raise CheckpointDownloadError(f'{url}: the download has {mismatch}; nothing was cached')
        _check_is_checkpoint(partial, url)
        os.replace(partial, cached)
    except (OSError, http.client.HTTPException) as error:
        raise CheckpointDownloadError(
            f'{url}: download failed ({error}); nothing was cached') from error
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
