"""Engine components (hooks) registered in MMDetection's registries."""
from .hooks import (BadSampleReportHook, FiniteLossHook, NonFiniteLossError,
                    SafeCheckpointHook)

__all__ = [
    'BadSampleReportHook', 'FiniteLossHook', 'NonFiniteLossError',
    'SafeCheckpointHook'
]
