"""``load_from`` / ``--checkpoint`` accept http(s) and Google Drive URLs; bad downloads never
reach the cache (served by the loopback server of tests/conftest.py)."""
import hashlib
import io
import os
import socket

import pytest
import torch
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader
from torch import nn

import mmpfcn  # noqa: F401  (installs the URL loader)
from mmpfcn.utils import CheckpointDownloadError
from mmpfcn.utils.checkpoint_download import (cache_name, confirmation_target, download_checkpoint,
                                              drive_file_id)


@pytest.fixture
def server(loopback_server, tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    model = nn.Linear(3, 2)
    buffer = io.BytesIO()
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, buffer)
    body = buffer.getvalue()
    sha = hashlib.sha256(body).hexdigest()[:8]
    for path in (f'/models/tiny-{sha}.pth', '/tiny-deadbeef.pth', '/plain.pth', '/other/plain.pth'):
        loopback_server.add(path, body)
    loopback_server.add('/truncated/plain.pth', body, truncate=True)
    cache = tmp_path / 'torch_home' / 'hub' / 'checkpoints'
    return dict(http=loopback_server, base=loopback_server.base, sha=sha, model=model, body=body,
                cache=cache)


def cached_files(server) -> list:
    return sorted(os.listdir(server['cache'])) if server['cache'].exists() else []


def test_url_checkpoint_is_downloaded_once_and_loaded(server):
    url = f"{server['base']}/models/tiny-{server['sha']}.pth"
    target = nn.Linear(3, 2)
    load_checkpoint(target, url, map_location='cpu')
    assert torch.equal(target.weight, server['model'].weight)
    assert cached_files(server) == [cache_name(url)]
    load_checkpoint(nn.Linear(3, 2), url, map_location='cpu')
    assert server['http'].requests == [f"/models/tiny-{server['sha']}.pth"]


def test_cache_is_keyed_by_url(server):
    first, second = f"{server['base']}/plain.pth", f"{server['base']}/other/plain.pth"
    assert cache_name(first) != cache_name(second)
    for url in (first, second, first):
        CheckpointLoader.load_checkpoint(url)
    assert cached_files(server) == sorted([cache_name(first), cache_name(second)])
    assert server['http'].requests == ['/plain.pth', '/other/plain.pth']


def test_wrong_hash_is_an_error_and_leaves_nothing(server):
    url = f"{server['base']}/tiny-deadbeef.pth"
    with pytest.raises(CheckpointDownloadError, match=r'tiny-deadbeef.pth: SHA-256 \w+ does not match the hash '
                       r'suffix deadbeef'):
        load_checkpoint(nn.Linear(3, 2), url)
    assert cached_files(server) == []


def test_truncated_download_is_an_error_and_leaves_nothing(server):
    url = f"{server['base']}/truncated/plain.pth"
    with pytest.raises(CheckpointDownloadError, match=f'{url}: download truncated, got'):
        load_checkpoint(nn.Linear(3, 2), url)
    assert cached_files(server) == []
    # The intact file is fetched afresh afterwards, not served from a broken cache entry.
    load_checkpoint(nn.Linear(3, 2), f"{server['base']}/plain.pth")
    assert cached_files(server) == [cache_name(f"{server['base']}/plain.pth")]


def test_expected_size_and_sha256_are_checked_before_caching(server):
    url = f"{server['base']}/plain.pth"
    with pytest.raises(CheckpointDownloadError, match=f'{url}: the download has SHA-256 .*, expected 00'):
        download_checkpoint(url, sha256='00' * 32)
    with pytest.raises(CheckpointDownloadError, match=f'{url}: the download has {len(server["body"])} '
                       'bytes, expected 7'):
        download_checkpoint(url, size=7)
    assert cached_files(server) == []
    digest = hashlib.sha256(server['body']).hexdigest()
    cached = download_checkpoint(url, size=len(server['body']), sha256=digest)
    assert open(cached, 'rb').read() == server['body']
    with pytest.raises(CheckpointDownloadError, match='the cached file .* has SHA-256'):
        download_checkpoint(url, sha256='11' * 32)


def test_drive_like_confirmation_page_is_followed(server):
    url = server['http'].add_drive_like('FILE-id_1', server['body'])
    checkpoint = CheckpointLoader.load_checkpoint(url)
    assert torch.equal(checkpoint['state_dict']['weight'], server['model'].weight)
    assert [path.split('?')[0] for path in server['http'].requests] == ['/uc', '/download']
    assert cached_files(server) == [cache_name(url)]


def test_html_page_is_an_error_and_leaves_nothing(server):
    url = server['http'].add('/share/page', b'<!DOCTYPE html><html><body>Sign in</body></html>',
                             'text/html')
    with pytest.raises(CheckpointDownloadError, match=f'{url}: the server returned an HTML page, not a '
                       'checkpoint; nothing was cached'):
        CheckpointLoader.load_checkpoint(url)
    # The same page sent as a binary type is recognised by its content.
    url = server['http'].add('/share/page.pth', b'  <html><body>quota exceeded</body></html>')
    with pytest.raises(CheckpointDownloadError, match=f'{url}: the server returned an HTML page'):
        CheckpointLoader.load_checkpoint(url)
    url = server['http'].add('/junk.pth', b'not a checkpoint at all')
    with pytest.raises(CheckpointDownloadError, match=f'{url}: the download is not a PyTorch checkpoint'):
        CheckpointLoader.load_checkpoint(url)
    assert cached_files(server) == []


def test_unreachable_host_and_missing_file_name_the_url(server):
    url = f"{server['base']}/missing.pth"
    with pytest.raises(CheckpointDownloadError, match=f'{url}: download failed .*404'):
        CheckpointLoader.load_checkpoint(url)
    # A port nothing listens on: take one from a socket that is closed again.
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    url = f'http://127.0.0.1:{port}/model.pth'
    with pytest.raises(CheckpointDownloadError, match=f'{url}: download failed'):
        CheckpointLoader.load_checkpoint(url)
    assert cached_files(server) == []


@pytest.mark.parametrize('url', [
    'https://drive.google.com/file/d/1tD1A5Zwbtri5OejlIz9MLKwzOzjtIMHQ/view?usp=sharing',
    'https://drive.google.com/open?id=1tD1A5Zwbtri5OejlIz9MLKwzOzjtIMHQ',
    'https://drive.google.com/uc?id=1tD1A5Zwbtri5OejlIz9MLKwzOzjtIMHQ&export=download',
])
def test_drive_links_share_one_file_id_and_cache_entry(url):
    assert drive_file_id(url) == '1tD1A5Zwbtri5OejlIz9MLKwzOzjtIMHQ'
    assert cache_name(url) == 'gdrive-1tD1A5Zwbtri5OejlIz9MLKwzOzjtIMHQ.pth'


def test_confirmation_target_of_a_form_and_of_a_link():
    form = ('<form action="https://example.test/download?x=1" method="get">'
            '<input type="hidden" name="id" value="A"><input type="hidden" name="confirm" value="t">'
            '</form>')
    assert confirmation_target(form, 'https://drive.test/uc') == \
        'https://example.test/download?x=1&id=A&confirm=t'
    link = '<a id="uc-download-link" href="/uc?export=download&amp;confirm=Ab1&amp;id=A">Download</a>'
    assert confirmation_target(link, 'https://drive.test/uc?id=A') == \
        'https://drive.test/uc?export=download&confirm=Ab1&id=A'
    assert confirmation_target('<form action="/login" method="post"></form>', 'https://x.test/') is None
    assert drive_file_id('https://example.test/file/d/abc/view') is None
