# Test-only: tiny_panoptic_fcn.py for two-process runs. Each rank gets its own
# work dir, $MMPFCN_TEST_WORK/rank<RANK>, so that a test can check that rank 1
# writes nothing, and records its image ids and parameters in
# $MMPFCN_TEST_PROBE (see tests/data/rank_probe.py). Needs tests/data on
# PYTHONPATH.
_base_ = ['./tiny_panoptic_fcn.py']
custom_imports = dict(
    imports=['mmpfcn', 'rank_probe'], allow_failed_imports=False)
work_dir = '{{$MMPFCN_TEST_WORK:work_dirs/dist}}/rank{{$RANK:0}}'
custom_hooks = [
    dict(type='RankProbeHook', out_dir='{{$MMPFCN_TEST_PROBE:work_dirs}}'),
    dict(type='FiniteLossHook'),
    dict(type='BadSampleReportHook')
]
