"""Loading transforms that check the content of each sample."""
from .load_checked_image import LoadCheckedImageFromFile
from .load_checked_panoptic_annotations import LoadCheckedPanopticAnnotations

__all__ = ['LoadCheckedImageFromFile', 'LoadCheckedPanopticAnnotations']
