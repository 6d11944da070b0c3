"""The embedded demo's own code: the synthetic COCO-panoptic generator and
the thing-crop pretraining of its backbone (dataset, square-crop transform,
classifier and accuracy metric), registered in MMDetection's registries.
Configs load it with
``custom_imports=dict(imports=['projects.synthetic.synthetic_panoptic'])``."""
from .crop_accuracy import CropAccuracy
from .crop_classifier import CropClassifier
from .generator import (DEFAULT_NUM_TRAIN, DEFAULT_NUM_VAL, NUM_STUFF_CLASSES,
                        NUM_THING_CLASSES, STUFF_CLASSES, SYNTHETIC_CLASSES,
                        SYNTHETIC_METAINFO, THING_CLASSES,
                        generate_synthetic_panoptic, render_images)
from .paths import DATA_ROOT, REPO_ROOT
from .random_square_crop import RandomSquareCrop
from .thing_crop_dataset import ThingCropDataset

__all__ = [
    'CropAccuracy', 'CropClassifier', 'RandomSquareCrop', 'ThingCropDataset',
    'generate_synthetic_panoptic', 'render_images', 'SYNTHETIC_CLASSES',
    'SYNTHETIC_METAINFO', 'THING_CLASSES', 'STUFF_CLASSES',
    'NUM_THING_CLASSES', 'NUM_STUFF_CLASSES', 'DEFAULT_NUM_TRAIN',
    'DEFAULT_NUM_VAL', 'DATA_ROOT', 'REPO_ROOT'
]
