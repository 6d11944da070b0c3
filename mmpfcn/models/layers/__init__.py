"""Small building blocks shared by Panoptic FCN components."""
from .coord_features import append_coordinates
from .per_image_matmul import per_image_matmul
from .sampled_deform_conv import SampledModulatedDeformConv2dPack, sampled_modulated_deform_conv2d

__all__ = [
    'append_coordinates', 'per_image_matmul', 'SampledModulatedDeformConv2dPack',
    'sampled_modulated_deform_conv2d'
]
