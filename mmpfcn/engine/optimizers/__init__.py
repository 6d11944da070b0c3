"""Optimizer wrappers registered in MMDetection's registries."""
from .bf16_optim_wrapper import BF16OptimWrapper

__all__ = ['BF16OptimWrapper']
