"""A small image and the configs shrunk to it, shared by the API tests."""
from typing import Callable

import numpy as np
import pytest
from mmengine.config import Config

import mmpfcn  # noqa: F401  (registers mmpfcn's components and patches)

H, W = 64, 96


@pytest.fixture(scope='session')
def image() -> np.ndarray:
    """A random ``H`` x ``W`` BGR image."""
    return np.random.RandomState(0).randint(0, 256, (H, W, 3), np.uint8)


@pytest.fixture(scope='session')
def small_config() -> Callable[[str], Config]:
    """Loads a config with its test images resized to ``W`` x ``H`` instead
    of 400-800 px: the same test pipeline and model, a prediction in about a
    second on a CPU."""

    def load(path: str) -> Config:
        cfg = Config.fromfile(path)
        for step in cfg.test_dataloader.dataset.pipeline:
            if step.type == 'Resize':
                step.scale = (W, H)
        return cfg

    return load
