"""Plain functions shared by Panoptic FCN's components."""
from .class_counts import with_class_counts
from .mask_resize import (masks_to_boxes, region_argmax, resize_probs, resize_whole,
                          threshold_masks)

__all__ = [
    'masks_to_boxes', 'region_argmax', 'resize_probs', 'resize_whole', 'threshold_masks',
    'with_class_counts'
]
