from .kernel_fusion import KernelFusion
from .panoptic_fusion_heads import PanopticFCNFusionHead

__all__ = ['KernelFusion', 'PanopticFCNFusionHead']
