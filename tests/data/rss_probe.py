"""Test-only hook logging the peak resident memory during testing.

Imported through ``custom_imports`` by
``tests/data/configs/tiny_panoptic_fcn_rss_probe.py`` (tests/data on
``PYTHONPATH``).
"""
from typing import Sequence

from mmdet.registry import HOOKS
from mmengine.hooks import Hook


@HOOKS.register_module()
class RssProbeHook(Hook):
    """Log ``peak RSS after N images: X KiB`` after the given test images.

    The peak is ``VmHWM`` of ``/proc/self/status``, this process's own high
    water mark (``ru_maxrss`` would include the parent's peak at the fork),
    so data loading must run in this process too (``num_workers=0``).
    """

    def __init__(self, after: Sequence[int]) -> None:
        self.after = set(after)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs=None) -> None:
        seen = (batch_idx + 1) * len(outputs)
        if seen in self.after:
            with open('/proc/self/status') as f:
                peak = next(line.split()[1] for line in f
                            if line.startswith('VmHWM:'))
            runner.logger.info(f'peak RSS after {seen} images: {peak} KiB')
