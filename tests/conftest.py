"""Fixtures shared across the test folders: a loopback HTTP server, and the reference
fixture (tests/data/panopticfcn_reference) as the authors' checkpoint file, the config and
image that reproduce it, and the check of its panoptic segments."""
import http.server
import json
import os.path as osp
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
REFERENCE = osp.join(ROOT, 'tests', 'data', 'panopticfcn_reference')
REFERENCE_CONFIG = osp.join(ROOT, 'configs', 'panoptic_fcn', 'panoptic-fcn_r50_fpn_8xb2-ms-1x_coco.py')

Route = Tuple[str, frozenset]


def route_of(path: str) -> Route:
    """A request path as (path, set of query items), so the query order does not matter."""
    parts = urlsplit(path)
    return parts.path, frozenset(parse_qsl(parts.query))


class LoopbackServer(http.server.HTTPServer):
    """Serves registered bodies on 127.0.0.1 from a thread that stops by itself after
    ``max_requests`` requests or ``lifetime`` seconds, whichever comes first."""

    def __init__(self, max_requests: int = 50, lifetime: float = 300.0) -> None:
        super().__init__(('127.0.0.1', 0), LoopbackHandler)
        self.timeout = 0.1
        self.routes: Dict[Route, dict] = {}
        self.requests: List[str] = []
        self.max_requests = max_requests
        self.deadline = time.monotonic() + lifetime
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.serve_bounded, daemon=True)

    @property
    def base(self) -> str:
        return f'http://127.0.0.1:{self.server_address[1]}'

    def serve_bounded(self) -> None:
        while (not self.stopped.is_set() and len(self.requests) < self.max_requests
               and time.monotonic() < self.deadline):
            self.handle_request()

    def add(self, path: str, body: bytes, content_type: str = 'application/octet-stream',
            truncate: bool = False, needs_cookie: Optional[str] = None,
            set_cookie: Optional[str] = None) -> str:
        """Serve ``body`` at ``path`` (with its query); ``truncate`` promises the full length
        and sends half; ``needs_cookie`` answers 403 without that cookie. Returns the URL."""
        self.routes[route_of(path)] = dict(body=body, content_type=content_type, truncate=truncate,
                                           needs_cookie=needs_cookie, set_cookie=set_cookie)
        return self.base + path

    def add_drive_like(self, file_id: str, body: bytes) -> str:
        """Serve ``body`` behind a page like the one Google Drive shows for large files: a
        form whose hidden inputs carry a ``confirm`` token, and a cookie it must come back
        with. Returns the first URL."""
        page = (f'<!DOCTYPE html><html><head><title>Warning</title></head><body>'
                f'<p>can&#39;t scan this file for viruses.</p>'
                f'<form id="download-form" action="/download" method="get">'
                f'<input type="submit" value="Download anyway"/>'
                f'<input type="hidden" name="id" value="{file_id}">'
                f'<input type="hidden" name="export" value="download">'
                f'<input type="hidden" name="confirm" value="t">'
                f'<input type="hidden" name="uuid" value="0f1e2d3c"></form></body></html>')
        self.add(f'/download?id={file_id}&export=download&confirm=t&uuid=0f1e2d3c', body,
                 needs_cookie='download_warning=t')
        return self.add(f'/uc?export=download&id={file_id}', page.encode(), 'text/html; charset=utf-8',
                        set_cookie='download_warning=t')


class LoopbackHandler(http.server.BaseHTTPRequestHandler):
    server: LoopbackServer

    def do_GET(self) -> None:  # noqa: N802
        self.server.requests.append(self.path)
        route = self.server.routes.get(route_of(self.path))
        if route is None:
            self.send_error(404)
            return
        if route['needs_cookie'] and route['needs_cookie'] not in self.headers.get('Cookie', ''):
            self.send_error(403)
            return
        body = route['body']
        self.send_response(200)
        self.send_header('Content-Type', route['content_type'])
        self.send_header('Content-Length', str(len(body)))
        if route['set_cookie']:
            self.send_header('Set-Cookie', route['set_cookie'] + '; Path=/')
        self.end_headers()
        self.wfile.write(body[:len(body) // 2] if route['truncate'] else body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def loopback_server():
    """A running :class:`LoopbackServer`, shut down after the test."""
    server = LoopbackServer()
    server.thread.start()
    yield server
    server.stopped.set()
    server.thread.join(timeout=5)
    server.server_close()


@pytest.fixture(scope='session')
def authors_checkpoint(tmp_path_factory) -> str:
    """The reference fixture's weights as the authors' code saves them (``{'model': ...}``,
    plain position head), generated as tests/test_parity.py does."""
    meta = json.load(open(osp.join(REFERENCE, 'fixture.json')))
    path = str(tmp_path_factory.mktemp('authors') / 'panoptic_fcn_reference.pth')
    command = meta['generate'].split()[1:]
    command[command.index('--out') + 1] = path
    subprocess.run([sys.executable, *command], cwd=REFERENCE, check=True, capture_output=True)
    return path


@pytest.fixture
def reference_config():
    """The R50 config with the fixture's plain position head, testing at the fixture's size
    (the image is not resized, as the authors' run fed it)."""
    from mmengine.config import Config

    fixture = json.load(open(osp.join(REFERENCE, 'fixture.json')))
    cfg = Config.fromfile(REFERENCE_CONFIG)
    cfg.model.kernel_generator.position_head.conv_cfg = None
    cfg.test_dataloader.dataset.pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(fixture['image_width'], fixture['image_height']), keep_ratio=True),
        dict(type='PackDetInputs', meta_keys=('img_path', 'ori_shape', 'img_shape', 'scale_factor')),
    ]
    return cfg


@pytest.fixture
def reference_image() -> np.ndarray:
    """The fixture's BGR image, as mmcv reads images."""
    return np.load(osp.join(REFERENCE, 'inputs.npz'))['image_bgr']


@pytest.fixture
def check_reference_segments() -> Callable:
    """``check(sample, model)``: every segment of the authors' panoptic map is one of the
    sample's ``pred_panoptic_seg`` with the same label and IoU >= 0.99, and there are as many."""
    from mmdet.evaluation.functional import INSTANCE_OFFSET

    reference = np.load(osp.join(REFERENCE, 'outputs.npz'))['panoptic_seg']
    segments = json.load(open(osp.join(REFERENCE, 'segments_info.json')))

    def check(sample, model) -> None:
        head = model.panoptic_fusion_head
        ids = sample.pred_panoptic_seg.sem_seg[0].cpu().numpy()
        predicted = {int(i): ids == i for i in np.unique(ids) if i != head.num_classes}
        assert len(predicted) == len(segments)
        for segment in segments:
            label = segment['category_id'] + (0 if segment['isthing'] else head.num_things_classes - 1)
            mask = reference == segment['id']
            ious = [np.logical_and(mask, m).sum() / np.logical_or(mask, m).sum()
                    for i, m in predicted.items() if i % INSTANCE_OFFSET == label]
            assert max(ious, default=0.0) >= 0.99, f'label {label}: IoU {max(ious, default=0.0):.4f}'

    return check
