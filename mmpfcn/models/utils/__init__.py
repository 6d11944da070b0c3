"""Plain functions shared by Panoptic FCN's components."""
from .class_counts import with_class_counts
from .detectron2_checkpoint import (IncompatibleCheckpointError, Variant, authors_variant,
                                    convert_for_model, convert_in_place, convert_state_dict)
from .mask_resize import (masks_to_boxes, region_argmax, resize_probs, resize_whole,
                          threshold_masks)

__all__ = [
    'IncompatibleCheckpointError', 'Variant', 'authors_variant', 'convert_for_model',
    'convert_in_place', 'convert_state_dict', 'masks_to_boxes', 'region_argmax', 'resize_probs',
    'resize_whole', 'threshold_masks', 'with_class_counts'
]
