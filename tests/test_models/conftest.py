import pytest
from mmengine.registry import init_default_scope

import mmpfcn  # noqa: F401  (registers the components under test)


@pytest.fixture(autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')
