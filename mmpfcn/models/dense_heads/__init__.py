from .kernel_generator import KernelGenerator
from .kernel_head import KernelHead
from .position_head import PositionHead

__all__ = ['KernelGenerator', 'KernelHead', 'PositionHead']
