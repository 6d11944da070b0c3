"""Engine components (hooks, optimizer wrappers) registered in MMDetection's registries."""
from .hooks import (BadSampleReportHook, FiniteLossHook, NonFiniteLossError,
                    SafeCheckpointHook)
from .optimizers import BF16OptimWrapper

__all__ = [
    'BadSampleReportHook', 'BF16OptimWrapper', 'FiniteLossHook', 'NonFiniteLossError',
    'SafeCheckpointHook'
]
