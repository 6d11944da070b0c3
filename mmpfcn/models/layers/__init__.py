"""Small building blocks shared by Panoptic FCN components."""
from .coord_features import append_coordinates
from .per_image_matmul import per_image_matmul

__all__ = ['append_coordinates', 'per_image_matmul']
