"""Datasets: COCO panoptic and the datasets in its format (Cityscapes,
Mapillary Vistas), with checked loading transforms that name the file of bad
data."""
from .bad_data_error import BadDataError
from .checked_coco_panoptic import CheckedCocoPanopticDataset
from .cityscapes_panoptic import CityscapesPanopticDataset
from .mapillary_vistas_panoptic import MapillaryVistasPanopticDataset
from .panoptic_annotation_rules import (annotation_problems,
                                        read_annotation_file)
from .panoptic_masks import (convert_mask_folder, export_mask_folder,
                             masks_to_panoptic, panoptic_to_masks)
from .transforms import (LoadCheckedImageFromFile,
                         LoadCheckedPanopticAnnotations,
                         RandomCropWithInstance)

__all__ = [
    'BadDataError', 'CheckedCocoPanopticDataset', 'CityscapesPanopticDataset',
    'LoadCheckedImageFromFile', 'LoadCheckedPanopticAnnotations',
    'MapillaryVistasPanopticDataset', 'RandomCropWithInstance',
    'annotation_problems', 'convert_mask_folder', 'export_mask_folder',
    'masks_to_panoptic', 'panoptic_to_masks', 'read_annotation_file'
]
