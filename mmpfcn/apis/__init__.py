"""What mmpfcn's tools build on: loading and checking a config, the common
command-line options and the runner; the image demo's inputs and its COCO
panoptic export. It sits above every other subpackage (config validation needs
the model classes), so nothing in mmpfcn imports it but the package itself,
which makes ``DetInferencer`` validate its config (:mod:`.inferencer`).
"""
from .cli import (NO_VALIDATION_OPTIONS, CfgOptionsAction, build_runner, load_config,
                  parse_runner_args, use_mixed_precision)
from .config_validation import ConfigError, validate_config
from .image_inputs import ImageInputError, collect_images, fetch_image
from .inferencer import install_inferencer_config_check
from .panoptic_export import coco_panoptic_annotation, coco_panoptic_segments

__all__ = [
    'CfgOptionsAction', 'ConfigError', 'ImageInputError', 'NO_VALIDATION_OPTIONS', 'build_runner',
    'coco_panoptic_annotation', 'coco_panoptic_segments', 'collect_images',
    'fetch_image', 'install_inferencer_config_check', 'load_config',
    'parse_runner_args', 'use_mixed_precision', 'validate_config'
]
