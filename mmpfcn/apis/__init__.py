"""What mmpfcn's tools build on: loading and checking a config, the common
command-line options and the runner; the image demo's inputs and its COCO
panoptic export. It sits above every other subpackage (config validation needs
the model classes), so nothing in mmpfcn imports it.
"""
from .cli import (NO_VALIDATION_OPTIONS, build_runner, load_config,
                  parse_runner_args, use_mixed_precision)
from .config_validation import ConfigError, validate_config
from .image_inputs import ImageInputError, collect_images, fetch_image
from .panoptic_export import coco_panoptic_annotation, coco_panoptic_segments

__all__ = [
    'ConfigError', 'ImageInputError', 'NO_VALIDATION_OPTIONS', 'build_runner',
    'coco_panoptic_annotation', 'coco_panoptic_segments', 'collect_images',
    'fetch_image', 'load_config', 'parse_runner_args', 'use_mixed_precision',
    'validate_config'
]
