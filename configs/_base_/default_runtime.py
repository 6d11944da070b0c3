# mmpfcn's runtime: MMDetection's, with the hooks that make training fail loudly and resume safely
# declared here rather than added by tools/train.py (docs/reliability.md):
# - SafeCheckpointHook: MMEngine's CheckpointHook that writes each checkpoint atomically;
# - FiniteLossHook: stops at the first non-finite loss, naming the iteration;
# - BadSampleReportHook: lists the samples the checked dataset skipped.
_base_ = 'mmdet::_base_/default_runtime.py'
custom_imports = dict(imports=['mmpfcn'], allow_failed_imports=False)

default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))
custom_hooks = [dict(type='FiniteLossHook'), dict(type='BadSampleReportHook')]
# MMDet's visualizer, also for predictions with no segment (`--show-dir`).
visualizer = dict(type='PanopticVisualizer')
