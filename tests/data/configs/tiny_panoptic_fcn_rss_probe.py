# Test-only: tiny_panoptic_fcn.py logging its peak RSS after 100 and 500 test
# images (see tests/data/rss_probe.py). Needs tests/data on PYTHONPATH.
_base_ = ['./tiny_panoptic_fcn.py']
custom_imports = dict(
    imports=['mmpfcn', 'rss_probe'], allow_failed_imports=False)
custom_hooks = [
    dict(type='RssProbeHook', after=(100, 500)),
    dict(type='FiniteLossHook'),
    dict(type='BadSampleReportHook')
]
