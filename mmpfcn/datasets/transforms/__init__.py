"""Loading transforms that check the content of each sample, and the square
crop of the thing-crop pretraining."""
from .load_checked_image import LoadCheckedImageFromFile
from .load_checked_panoptic_annotations import LoadCheckedPanopticAnnotations
from .random_square_crop import RandomSquareCrop

__all__ = [
    'LoadCheckedImageFromFile', 'LoadCheckedPanopticAnnotations',
    'RandomSquareCrop'
]
