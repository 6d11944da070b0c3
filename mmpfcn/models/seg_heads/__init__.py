from .kernel_fusion import KernelFusion

__all__ = ['KernelFusion']
