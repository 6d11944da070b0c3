"""Datasets: a COCO panoptic dataset with checked loading transforms that
name the file of bad data."""
from .bad_data_error import BadDataError
from .checked_coco_panoptic import CheckedCocoPanopticDataset
from .transforms import (LoadCheckedImageFromFile,
                         LoadCheckedPanopticAnnotations)

__all__ = [
    'BadDataError', 'CheckedCocoPanopticDataset', 'LoadCheckedImageFromFile',
    'LoadCheckedPanopticAnnotations'
]
