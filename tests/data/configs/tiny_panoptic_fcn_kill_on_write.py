# Test-only: tiny_panoptic_fcn.py whose process is killed while it writes the
# file matching $MMPFCN_KILL_ON_WRITE (see tests/data/kill_on_write.py).
# Needs tests/data on PYTHONPATH.
_base_ = ['./tiny_panoptic_fcn.py']
custom_imports = dict(
    imports=['mmpfcn', 'kill_on_write'], allow_failed_imports=False)
