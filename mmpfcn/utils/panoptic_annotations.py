"""A COCO panoptic annotation file read for any dataset in that format, not
only COCO's own."""
from typing import List, Sequence, Union

from mmdet.datasets.api_wrappers import COCOPanoptic


class PanopticAnnotations(COCOPanoptic):
    """MMDetection's :class:`COCOPanoptic` without two COCO-only assumptions.

    - ``get_cat_ids(cat_names=...)`` returns the ids in the order of
      ``cat_names``, not of the file's ``categories``. MMDetection labels a
      class by its position in the ``cat_ids`` of the dataset's ``classes``,
      and its models number things before stuff; COCO's file lists things
      first, but Cityscapes' lists stuff first and Mapillary Vistas' mixes
      them.
    - Each image's ``segm_file``, its panoptic PNG, is the ``file_name`` of
      its annotation, as the panoptic format defines it, not the image's own
      name with ``.jpg`` made ``.png`` (``frankfurt_..._leftImg8bit.png``
      and ``frankfurt_..._gtFine_panoptic.png`` for Cityscapes). An image
      without an annotation keeps the derived name.
    """

    @classmethod
    def from_dict(cls, dataset: dict) -> 'PanopticAnnotations':
        """The annotations of an already parsed file, so that a caller that
        checks the JSON does not read it twice."""
        annotations = cls()
        annotations.dataset = dataset
        annotations.createIndex()
        return annotations

    def createIndex(self) -> None:  # noqa: N802 (pycocotools' name)
        super().createIndex()
        # MMDetection's snake-case names of the new index.
        self.img_ann_map = self.imgToAnns
        self.cat_img_map = self.catToImgs
        for ann in self.dataset.get('annotations', []):
            image = self.imgs.get(ann['image_id'])
            if image is not None and 'file_name' in ann:
                image['segm_file'] = ann['file_name']

    def get_cat_ids(self,
                    cat_names: Union[str, Sequence[str]] = (),
                    sup_names: Union[str, Sequence[str]] = (),
                    cat_ids: Union[int, Sequence[int]] = ()) -> List[int]:
        """The parent's selection, ordered as ``cat_names`` when given."""
        ids = super().get_cat_ids(cat_names, sup_names, cat_ids)
        if cat_names:
            names = [cat_names] if isinstance(cat_names, str) else cat_names
            position = {name: i for i, name in enumerate(names)}
            ids.sort(key=lambda cat_id: position[self.cats[cat_id]['name']])
        return ids
