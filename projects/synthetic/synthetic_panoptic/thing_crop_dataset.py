"""The things of a COCO panoptic split as square image crops, one sample per
thing: the data for pretraining a backbone to recognise thing classes."""
import json
import os.path as osp
from typing import List

import numpy as np
import torch
from mmcv.ops import roi_align
from mmdet.registry import DATASETS
from mmengine.dataset import BaseDataset

from mmpfcn.datasets import BadDataError, LoadCheckedImageFromFile


def square_crop_boxes(bboxes: np.ndarray, context: float) -> np.ndarray:
    """Squares centred on COCO ``[x, y, w, h]`` boxes, ``context`` times their
    longer side, as ``[x1, y1, x2, y2]``."""
    centre = bboxes[:, :2] + bboxes[:, 2:] / 2
    half = context * bboxes[:, 2:].max(axis=1, keepdims=True) / 2
    return np.concatenate([centre - half, centre + half], axis=1)


def cut_crops(image: np.ndarray, squares: np.ndarray,
              crop_size: int) -> np.ndarray:
    """Bilinear ``crop_size`` x ``crop_size`` resamples of an ``(H, W, 3)``
    image at every square (``[x1, y1, x2, y2]``, pixels); all squares of the
    image in one :func:`mmcv.ops.roi_align` call, zeros outside the image."""
    feats = torch.from_numpy(image).permute(2, 0, 1)[None].float().contiguous()
    rois = torch.cat([torch.zeros(len(squares), 1),
                      torch.from_numpy(squares).float()], dim=1)
    crops = roi_align(feats, rois, (crop_size, crop_size), 1.0, 2, 'avg',
                      True)
    return crops.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()


@DATASETS.register_module()
class ThingCropDataset(BaseDataset):
    """Square crops of the thing segments of a COCO panoptic split.

    Each sample is one thing: an ``img`` of ``crop_size`` x ``crop_size``
    pixels centred on the thing's box and ``context`` times its longer side
    (so some surroundings and occluders are in view), and its class among
    the thing classes as ``gt_bboxes_labels`` (things in the order of the
    JSON's categories, as :class:`mmdet.datasets.CocoPanopticDataset` labels
    them), which :class:`mmdet.datasets.transforms.PackDetInputs` packs as
    the sample's ``gt_instances.labels``. A classifier trained on them
    learns to recognise things by their look alone, like the ImageNet
    pretraining of the paper's backbones, from the training set itself. The
    crops are cut once, when the dataset is loaded (one
    :func:`mmcv.ops.roi_align` call per image), and kept in memory. A JSON
    that cannot be read, an annotation without its image or a needed key,
    and an image that :class:`LoadCheckedImageFromFile` rejects (unreadable,
    or not the size its entry says) raise :class:`BadDataError` naming the
    file.

    Args:
        ann_file (str): The split's COCO panoptic JSON.
        data_prefix (dict): ``img``: folder of the split's images.
        crop_size (int): Side of the stored crops in pixels.
        context (float): Crop side over the box's longer side.
        **kwargs: Arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(self,
                 *args,
                 crop_size: int = 80,
                 context: float = 1.5625,
                 **kwargs) -> None:
        if crop_size < 1 or context <= 0:
            raise ValueError('ThingCropDataset: crop_size must be >= 1 and '
                             f'context > 0, got {crop_size} and {context}')
        self.crop_size = crop_size
        self.context = context
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        try:
            with open(self.ann_file) as file:
                coco = json.load(file)
        except (OSError, ValueError) as error:
            raise BadDataError(
                f'{self.ann_file}: cannot read it ({error})') from error
        try:
            return self._crop_things(coco)
        except KeyError as error:
            raise BadDataError(
                f'{self.ann_file}: missing key {error}') from error

    def _crop_things(self, coco: dict) -> List[dict]:
        """One data item per thing segment of the loaded JSON."""
        thing_ids = [c['id'] for c in coco['categories'] if c['isthing']]
        label_of = {cat_id: label for label, cat_id in enumerate(thing_ids)}
        self._metainfo['classes'] = tuple(
            c['name'] for c in coco['categories'] if c['isthing'])
        image_of = {image['id']: image for image in coco['images']}
        load_image = LoadCheckedImageFromFile()
        data_list = []
        for ann in coco['annotations']:
            things = [s for s in ann['segments_info']
                      if s['category_id'] in label_of]
            if not things:
                continue
            if ann['image_id'] not in image_of:
                raise BadDataError(
                    f'{self.ann_file}: the annotation of image id '
                    f'{ann["image_id"]} has no entry in "images"')
            info = image_of[ann['image_id']]
            img_path = osp.join(self.data_prefix['img'], info['file_name'])
            image = load_image(
                dict(img_path=img_path, img_id=info['id'],
                     height=info.get('height'), width=info.get('width')))['img']
            boxes = np.array([s['bbox'] for s in things], dtype=np.float64)
            squares = square_crop_boxes(boxes, self.context)
            crops = cut_crops(image, squares, self.crop_size)
            for crop, thing in zip(crops, things):
                data_list.append(
                    dict(
                        img=crop,
                        img_path=img_path,
                        segment_id=thing['id'],
                        gt_bboxes_labels=np.array(
                            [label_of[thing['category_id']]], np.int64)))
        if not data_list:
            raise BadDataError(f'{self.ann_file}: no thing segment to crop')
        return data_list

    def prepare_data(self, idx: int) -> dict:
        data = self.get_data_info(idx)
        data['img_shape'] = data['ori_shape'] = data['img'].shape[:2]
        return self.pipeline(data)
