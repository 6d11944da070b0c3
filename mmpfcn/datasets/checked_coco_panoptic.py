"""COCO panoptic dataset that reports bad data by file and annotation."""
import copy
import logging
import os.path as osp
import posixpath
from typing import Any, Callable, List, Sequence, Tuple, Union

import torch
from mmcv.transforms import LoadImageFromFile
from mmdet.datasets import CocoPanopticDataset
from mmdet.datasets.transforms import LoadPanopticAnnotations
from mmdet.registry import DATASETS, TRANSFORMS
from mmengine import fileio
from mmengine.logging import print_log
from torch.utils.data import get_worker_info

from mmpfcn.utils import PanopticAnnotations

from .bad_data_error import BadDataError
from .panoptic_annotation_rules import (annotation_problems,
                                        problems_message,
                                        read_annotation_file)
from .transforms import (LoadCheckedImageFromFile,
                         LoadCheckedPanopticAnnotations)

# Skip counters, one per dataloader worker (modulo), so that no two
# processes increment the same one.
NUM_SKIP_COUNTERS = 256
# MMDetection's loaders and the checked loaders that replace them.
CHECKED_LOADERS = {
    LoadImageFromFile: LoadCheckedImageFromFile,
    LoadPanopticAnnotations: LoadCheckedPanopticAnnotations,
}


def escapes_root(file_name: str) -> bool:
    """Whether a relative ``file_name`` from an annotation file leads out of
    its data root (absolute, or ``..`` after normalisation)."""
    norm = posixpath.normpath(file_name.replace('\\', '/'))
    return posixpath.isabs(norm) or norm == '..' or norm.startswith('../')


def with_checked_loaders(
    pipeline: Sequence[Union[dict, Callable]]
) -> List[Union[dict, Callable]]:
    """``pipeline`` with each step of type ``LoadImageFromFile`` or
    ``LoadPanopticAnnotations`` (by name, scoped name or class) made the
    checked loader of :data:`CHECKED_LOADERS`, with the same arguments.

    Other steps, built transforms and subclasses of the two are kept.
    """
    upgraded = []
    for step in pipeline:
        if isinstance(step, dict):
            kind = step.get('type')
            if isinstance(kind, str):
                kind = TRANSFORMS.get(kind)
            if kind in CHECKED_LOADERS:
                step = {**step, 'type': CHECKED_LOADERS[kind]}
        upgraded.append(step)
    return upgraded


@DATASETS.register_module()
class CheckedCocoPanopticDataset(CocoPanopticDataset):
    """:class:`mmdet.datasets.CocoPanopticDataset` that checks its data.

    When the dataset is loaded it raises :class:`BadDataError`, naming the
    annotation file, image id and file: first, before MMDetection or
    pycocotools read it, for an annotation file that is not a JSON object or
    breaks :func:`~.panoptic_annotation_rules.annotation_problems` (fields
    missing or of the wrong kind, duplicate or dangling ids, segments of id
    0 or without pixels, a segment whose ``category_id`` is not one of the
    dataset's categories, a class of ``metainfo`` the JSON does not define
    or that is both thing and stuff); then for a ``file_name`` that escapes
    the data root, a missing image or panoptic PNG (``check_files``), and an
    empty dataset (no image in the JSON, or none left after
    ``filter_cfg``). The message lists every problem found, the first
    :data:`~.panoptic_annotation_rules.MAX_LISTED_PROBLEMS` of many
    (``tools/misc/check_dataset.py`` lists them all). Image and
    PNG content is checked when a sample is read, by
    :class:`LoadCheckedImageFromFile` and
    :class:`LoadCheckedPanopticAnnotations`: the dataset builds its pipeline
    with these in place of MMDetection's ``LoadImageFromFile`` and
    ``LoadPanopticAnnotations`` (:func:`with_checked_loaders`), so configs
    name the plain loaders, which ``DetInferencer`` finds and replaces by its
    own, and still read checked data (naming the checked ones works too).

    Any COCO panoptic file is read as the format defines it
    (:class:`~mmpfcn.utils.PanopticAnnotations`): label ``i`` is the
    category named ``metainfo['classes'][i]`` whatever the order of the
    file's ``categories``, and an image's panoptic PNG is its annotation's
    ``file_name``. Subclasses place images by :meth:`image_path`.

    After loading, ``metainfo['category_ids']`` holds the dataset's category
    ids in label order (things, then stuff: :attr:`cat_ids`); the runner
    saves it in checkpoints' ``meta['dataset_meta']``, so a prediction's
    labels map back to the dataset's category ids.

    Args:
        skip_bad_samples (bool): In training, skip a sample whose loading
            raises :class:`BadDataError`: log a warning, count it (see
            :attr:`num_skipped` and ``BadSampleReportHook``) and read another
            sample instead. Test-mode datasets always raise.
        check_files (bool): Check at load time that every image and panoptic
            PNG exists (one ``exists`` call per file).
        *args, **kwargs: Arguments of :class:`CocoPanopticDataset`.
    """
    COCOAPI = PanopticAnnotations

    def __init__(self,
                 *args,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 skip_bad_samples: bool = False,
                 check_files: bool = True,
                 **kwargs) -> None:
        self.skip_bad_samples = skip_bad_samples
        self.check_files = check_files
        # Shared memory: dataloader workers count into the same tensor.
        self._skip_counts = torch.zeros(
            NUM_SKIP_COUNTERS, dtype=torch.int64).share_memory_()
        super().__init__(
            *args, pipeline=with_checked_loaders(pipeline), **kwargs)

    @property
    def num_skipped(self) -> int:
        """Bad samples skipped so far, over all dataloader workers."""
        return int(self._skip_counts.sum())

    def filter_data(self) -> List[dict]:
        data_list = super().filter_data()
        if not data_list:
            raise BadDataError(
                f'{self.ann_file}: no image is left after filter_cfg='
                f'{self.filter_cfg}: the dataset is empty')
        return data_list

    def load_data_list(self) -> List[dict]:
        data_list, problems = self.check_data_list()
        if problems:
            raise BadDataError(problems_message(problems))
        self._metainfo['category_ids'] = tuple(self.cat_ids)
        return data_list

    def check_data_list(self) -> Tuple[List[dict], List[str]]:
        """The parsed images of the annotation file and the problems found:
        those of the file's structure, when MMDetection could not read it
        (then no image is parsed), else those of each image's file names
        and files (then the list holds the other images), or that it lists
        no image.

        MMDetection's ``CocoDataset.load_data_list``, on the JSON read once
        and checked, collecting the problems rather than stopping at the
        first. Raises :class:`BadDataError` for a file that is not JSON.
        """
        data = read_annotation_file(self.ann_file, self.backend_args)
        problems = annotation_problems(
            data,
            self.ann_file,
            self.metainfo,
            needs_annotations=bool(self.data_prefix.get('seg')))
        if problems:
            return [], problems
        self.coco = self.COCOAPI.from_dict(data)
        self.cat_ids = self.coco.get_cat_ids(
            cat_names=self.metainfo['classes'])
        self.cat2label = {cat_id: i for i, cat_id in enumerate(self.cat_ids)}
        self.cat_img_map = copy.deepcopy(self.coco.cat_img_map)
        data_list = []
        for img_id in self.coco.get_img_ids():
            raw_img_info = self.coco.load_imgs([img_id])[0]
            raw_img_info['img_id'] = img_id
            try:
                data_list.append(
                    self.parse_data_info(
                        dict(
                            raw_ann_info=self.coco.imgToAnns[img_id],
                            raw_img_info=raw_img_info)))
            except BadDataError as error:
                problems.append(str(error))
        del self.coco
        if not data_list and not problems:
            problems.append(
                f'{self.ann_file} lists no images: the dataset is empty')
        return data_list, problems

    def parse_data_info(self, raw_data_info: dict) -> dict:
        img_info = raw_data_info['raw_img_info']
        where = (f'{self.ann_file}: image id {img_info["img_id"]} '
                 f'(file_name "{img_info["file_name"]}")')
        if escapes_root(img_info['file_name']):
            raise BadDataError(
                f'{where}: the file name escapes the data root '
                f'{self.data_prefix["img"]}')
        if escapes_root(img_info['segm_file']):
            raise BadDataError(
                f'{where}: its annotation\'s PNG "{img_info["segm_file"]}" '
                f'escapes the data root {self.data_prefix.get("seg")}')
        data_info = super().parse_data_info(raw_data_info)
        data_info['img_path'] = self.image_path(img_info)
        if data_info['seg_map_path'] is not None:
            data_info['seg_map_path'] = osp.join(self.data_prefix['seg'],
                                                 img_info['segm_file'])
        if self.check_files:
            for key, kind in (('img_path', 'image'),
                              ('seg_map_path', 'panoptic PNG')):
                path = data_info[key]
                if path is not None and not fileio.exists(
                        path, backend_args=self.backend_args):
                    raise BadDataError(f'{where}: {kind} {path} is missing')
        return data_info

    def image_path(self, img_info: dict) -> str:
        """Where an image of the annotation file is: its ``file_name`` under
        the image prefix, as MMDetection reads COCO."""
        return osp.join(self.data_prefix['img'], img_info['file_name'])

    def prepare_data(self, idx: int) -> Any:
        try:
            return super().prepare_data(idx)
        except BadDataError as error:
            if self.test_mode or not self.skip_bad_samples:
                raise
            worker = get_worker_info()
            slot = 0 if worker is None else worker.id % NUM_SKIP_COUNTERS
            self._skip_counts[slot] += 1
            print_log(
                f'Skipping bad sample {self.num_skipped} (index {idx}): '
                f'{error}',
                logger='current',
                level=logging.WARNING)
            return None
