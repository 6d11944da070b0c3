"""Hooks that make training fail loudly and resume safely."""
from .bad_sample_report_hook import BadSampleReportHook
from .finite_loss_hook import FiniteLossHook, NonFiniteLossError
from .safe_checkpoint_hook import SafeCheckpointHook

__all__ = [
    'BadSampleReportHook', 'FiniteLossHook', 'NonFiniteLossError',
    'SafeCheckpointHook'
]
