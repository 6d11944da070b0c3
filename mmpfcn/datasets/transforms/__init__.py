"""Transforms: loading that checks the content of each sample, and an
object-keeping random crop."""
from .load_checked_image import LoadCheckedImageFromFile
from .load_checked_panoptic_annotations import LoadCheckedPanopticAnnotations
from .random_crop_with_instance import RandomCropWithInstance

__all__ = [
    'LoadCheckedImageFromFile', 'LoadCheckedPanopticAnnotations',
    'RandomCropWithInstance'
]
