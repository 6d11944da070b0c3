from .kernel_generator import KernelGenerator

__all__ = ['KernelGenerator']
