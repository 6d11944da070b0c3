"""Where the demo's tools work: the repository root they run in and the data
folder, relative to it, that the demo's configs read."""
import os.path as osp

REPO_ROOT = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
DATA_ROOT = osp.join('data', 'synthetic')
