"""``load_from`` / ``--checkpoint`` accept http(s) URLs; bad downloads never reach the cache."""
import hashlib
import http.server
import os
import threading

import pytest
import torch
from mmengine.runner import load_checkpoint
from torch import nn

import mmpfcn  # noqa: F401  (installs the URL loader)
from mmpfcn.utils import CheckpointDownloadError


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``files``; paths under ``/truncated/`` promise the full length and send half."""
    files: dict = {}
    requests: list = []

    def do_GET(self):  # noqa: N802
        self.requests.append(self.path)
        truncated = self.path.startswith('/truncated/')
        body = self.files.get(self.path.rsplit('/', 1)[-1])
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body[:len(body) // 2] if truncated else body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    model = nn.Linear(3, 2)
    path = tmp_path / 'ckpt.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    body = path.read_bytes()
    sha = hashlib.sha256(body).hexdigest()[:8]
    Handler.files = {f'tiny-{sha}.pth': body, 'tiny-deadbeef.pth': body, 'plain.pth': body}
    Handler.requests = []
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    httpd.timeout = 5
    thread = threading.Thread(target=httpd.serve_forever, kwargs=dict(poll_interval=0.1), daemon=True)
    thread.start()
    yield dict(base=f'http://127.0.0.1:{httpd.server_address[1]}', sha=sha, model=model,
               cache=tmp_path / 'torch_home' / 'hub' / 'checkpoints')
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_url_checkpoint_is_downloaded_once_and_loaded(server):
    url = f"{server['base']}/models/tiny-{server['sha']}.pth"
    target = nn.Linear(3, 2)
    load_checkpoint(target, url, map_location='cpu')
    assert torch.equal(target.weight, server['model'].weight)
    assert sorted(os.listdir(server['cache'])) == [f"tiny-{server['sha']}.pth"]
    load_checkpoint(nn.Linear(3, 2), url, map_location='cpu')
    assert Handler.requests == [f"/models/tiny-{server['sha']}.pth"]


def test_wrong_hash_is_an_error_and_leaves_nothing(server):
    url = f"{server['base']}/tiny-deadbeef.pth"
    with pytest.raises(CheckpointDownloadError, match=r'tiny-deadbeef.pth: SHA-256 \w+ does not match the hash '
                       r'suffix deadbeef'):
        load_checkpoint(nn.Linear(3, 2), url)
    assert os.listdir(server['cache']) == []


def test_truncated_download_is_an_error_and_leaves_nothing(server):
    url = f"{server['base']}/truncated/plain.pth"
    with pytest.raises(CheckpointDownloadError, match='download truncated, got'):
        load_checkpoint(nn.Linear(3, 2), url)
    assert os.listdir(server['cache']) == []
    # The intact file is fetched afresh afterwards, not served from a broken cache entry.
    load_checkpoint(nn.Linear(3, 2), f"{server['base']}/plain.pth")
    assert os.listdir(server['cache']) == ['plain.pth']
