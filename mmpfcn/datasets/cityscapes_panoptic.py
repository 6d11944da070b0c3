"""Cityscapes panoptic, as cityscapesscripts' converter writes it."""
import os.path as osp

from mmdet.registry import DATASETS

from .checked_coco_panoptic import CheckedCocoPanopticDataset

# The 19 evaluated classes (``ignoreInEval`` is False in cityscapesscripts'
# labels.py), things first as mmpfcn's models number them; the file lists
# them by label id, stuff first.
CITYSCAPES_THING_CLASSES = ('person', 'rider', 'car', 'truck', 'bus', 'train',
                            'motorcycle', 'bicycle')
CITYSCAPES_STUFF_CLASSES = ('road', 'sidewalk', 'building', 'wall', 'fence',
                            'pole', 'traffic light', 'traffic sign',
                            'vegetation', 'terrain', 'sky')
# Cityscapes' own colours of those classes (labels.py), in the same order.
CITYSCAPES_PALETTE = [(220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70),
                      (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
                      (128, 64, 128), (244, 35, 232), (70, 70, 70),
                      (102, 102, 156), (190, 153, 153), (153, 153, 153),
                      (250, 170, 30), (220, 220, 0), (107, 142, 35),
                      (152, 251, 152), (70, 130, 180)]


@DATASETS.register_module()
class CityscapesPanopticDataset(CheckedCocoPanopticDataset):
    """Cityscapes panoptic (fine annotations) in the layout of the official
    tools.

    ``csCreatePanopticImgs`` (``tools/dataset_converters/cityscapes.py``
    runs it) turns ``gtFine/<split>/<city>/*_gtFine_instanceIds.png`` into
    ``gtFine/cityscapes_panoptic_<split>.json`` and the PNG folder
    ``gtFine/cityscapes_panoptic_<split>/``. Its category ids are label ids
    (or train ids with ``--use-train-id``); either maps to the 19 classes
    by name. A thing segment without an instance id (``car`` groups and the
    like) is crowd. Its image entries name the image
    ``<id>_gtFine_leftImg8bit.png``, a file that does not exist: the image is
    read from ``leftImg8bit/<split>/<city>/<id>_leftImg8bit.png``, where
    ``<id>`` is ``<city>_<sequence>_<frame>``.

    Args:
        *args, **kwargs: Those of :class:`CheckedCocoPanopticDataset`, with
            ``data_prefix=dict(img='leftImg8bit/<split>/',
            seg='gtFine/cityscapes_panoptic_<split>/')``.
    """
    METAINFO = dict(
        classes=CITYSCAPES_THING_CLASSES + CITYSCAPES_STUFF_CLASSES,
        thing_classes=CITYSCAPES_THING_CLASSES,
        stuff_classes=CITYSCAPES_STUFF_CLASSES,
        palette=CITYSCAPES_PALETTE)

    def image_path(self, img_info: dict) -> str:
        image_id = str(img_info['img_id'])
        city = image_id.rsplit('_', 2)[0]
        return osp.join(self.data_prefix['img'], city,
                        f'{image_id}_leftImg8bit.png')
