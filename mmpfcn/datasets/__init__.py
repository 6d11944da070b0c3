"""Datasets: the synthetic COCO-panoptic generator (MMDet's
``CocoPanopticDataset`` reads its output unchanged) and a COCO panoptic
dataset with checked loading transforms that name the file of bad data, and
the thing crops of a panoptic split for pretraining a backbone."""
from .bad_data_error import BadDataError
from .checked_coco_panoptic import CheckedCocoPanopticDataset
from .synthetic_panoptic import (DEFAULT_NUM_TRAIN, DEFAULT_NUM_VAL,
                                 NUM_STUFF_CLASSES, NUM_THING_CLASSES,
                                 STUFF_CLASSES, SYNTHETIC_CLASSES,
                                 SYNTHETIC_METAINFO, THING_CLASSES,
                                 generate_synthetic_panoptic)
from .thing_crop_dataset import ThingCropDataset
from .transforms import (LoadCheckedImageFromFile,
                         LoadCheckedPanopticAnnotations, RandomSquareCrop)

__all__ = [
    'generate_synthetic_panoptic', 'SYNTHETIC_CLASSES', 'SYNTHETIC_METAINFO',
    'THING_CLASSES', 'STUFF_CLASSES', 'NUM_THING_CLASSES', 'NUM_STUFF_CLASSES',
    'DEFAULT_NUM_TRAIN', 'DEFAULT_NUM_VAL',
    'BadDataError', 'CheckedCocoPanopticDataset', 'LoadCheckedImageFromFile',
    'LoadCheckedPanopticAnnotations', 'ThingCropDataset', 'RandomSquareCrop'
]
