"""Small building blocks shared by Panoptic FCN components."""
from .conv_tower import conv_tower
from .coord_features import append_coordinates
from .max_pool3x3 import max_pool3x3
from .mmcv_cuda_fallbacks import install_mmcv_cuda_fallbacks, mmcv_has_cuda_ops
from .per_image_matmul import per_image_matmul
from .position_prior import grid_centers, position_prior
from .region_kernels import pool_region_kernels
from .sampled_deform_conv import SampledModulatedDeformConv2dPack, sampled_modulated_deform_conv2d

__all__ = [
    'append_coordinates', 'conv_tower', 'grid_centers', 'install_mmcv_cuda_fallbacks',
    'max_pool3x3', 'mmcv_has_cuda_ops', 'per_image_matmul', 'pool_region_kernels', 'position_prior',
    'SampledModulatedDeformConv2dPack', 'sampled_modulated_deform_conv2d'
]
