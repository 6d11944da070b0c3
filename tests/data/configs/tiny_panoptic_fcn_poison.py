# Test-only: tiny_panoptic_fcn.py whose losses turn NaN at iteration 4 (see
# tests/data/poison_weights.py). Needs tests/data on PYTHONPATH.
_base_ = ['./tiny_panoptic_fcn.py']
custom_imports = dict(
    imports=['mmpfcn', 'poison_weights'], allow_failed_imports=False)
custom_hooks = [
    dict(type='PoisonWeightsHook', at_iter=4),
    dict(type='FiniteLossHook'),
    dict(type='BadSampleReportHook')
]
