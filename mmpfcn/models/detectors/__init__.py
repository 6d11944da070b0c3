from .panoptic_fcn import PanopticFCN

__all__ = ['PanopticFCN']
