"""What mmpfcn's tools build on: loading and checking a config, the common
command-line options and the runner. It sits above every other subpackage
(config validation needs the model classes), so nothing in mmpfcn imports it.
"""
from .cli import (NO_VALIDATION_OPTIONS, build_runner, load_config,
                  parse_runner_args)
from .config_validation import ConfigError, validate_config

__all__ = [
    'ConfigError', 'NO_VALIDATION_OPTIONS', 'build_runner', 'load_config',
    'parse_runner_args', 'validate_config'
]
