"""Panoptic annotation loading that checks the PNG against the JSON."""
import mmcv
import numpy as np
from mmdet.datasets.transforms import LoadPanopticAnnotations
from mmdet.registry import TRANSFORMS
from mmdet.structures.mask import BitmapMasks
from mmengine import fileio

from ..bad_data_error import BadDataError

# Label of pixels no segment covers (MMDet's ``gt_seg_map`` ignore value).
SEG_IGNORE = 255
# Segment id of VOID pixels in a COCO panoptic PNG.
VOID_ID = 0


@TRANSFORMS.register_module()
class LoadCheckedPanopticAnnotations(LoadPanopticAnnotations):
    """:class:`mmdet.datasets.transforms.LoadPanopticAnnotations` with
    checked content.

    Gives the same ``gt_masks`` and ``gt_seg_map`` as MMDetection, built with
    one ``np.unique`` instead of one comparison per segment, and raises
    :class:`~mmpfcn.datasets.BadDataError` naming the PNG when it is missing
    or unreadable (empty, truncated, not an image), when its size differs
    from the image's, when a segment of the JSON has no pixel in it, or when
    it has pixels of a segment id the JSON does not list (with a positive
    area).
    """

    def _read_segment_ids(self, path: str) -> np.ndarray:
        """``(H, W)`` segment ids of the panoptic PNG at ``path``."""
        try:
            png_bytes = fileio.get(path, backend_args=self.backend_args)
            # OpenCV asserts on no bytes instead of failing to decode them.
            png = mmcv.imfrombytes(
                png_bytes, flag='color', channel_order='rgb',
                backend=self.imdecode_backend) if png_bytes else None
        except OSError as error:
            raise BadDataError(
                f'Cannot read panoptic PNG {path}: {error}') from error
        if png is None:
            raise BadDataError(
                f'Cannot decode panoptic PNG {path}: the file is truncated, '
                'corrupt or not an image')
        return self.rgb2id(png)

    def _load_masks_and_semantic_segs(self, results: dict) -> None:
        path = results.get('seg_map_path')
        if path is None:
            return
        ids = self._read_segment_ids(path)
        height, width = results['ori_shape']
        if ids.shape != (height, width):
            raise BadDataError(
                f'Panoptic PNG {path} is {ids.shape[1]}x{ids.shape[0]} '
                f'(width x height) but its image {results["img_path"]} is '
                f'{width}x{height}')
        segments = results['segments_info']
        listed = np.array([s['id'] for s in segments], dtype=ids.dtype)
        present, inverse = np.unique(ids, return_inverse=True)
        absent = np.setdiff1d(listed, present)
        if absent.size:
            raise BadDataError(
                f'Panoptic PNG {path} has no pixel of segment(s) '
                f'{absent.tolist()} that the annotation JSON lists for image '
                f'id {results["img_id"]}')
        unlisted = np.setdiff1d(present[present != VOID_ID], listed)
        if unlisted.size:
            raise BadDataError(
                f'Panoptic PNG {path} has pixels of segment id(s) '
                f'{unlisted.tolist()} that the annotation JSON does not list '
                f'for image id {results["img_id"]}')

        # Position of each listed segment among the PNG's unique ids.
        slots = np.searchsorted(present, listed)
        if self.with_seg:
            slot_labels = np.full(len(present), SEG_IGNORE, dtype=ids.dtype)
            slot_labels[slots] = [s['category'] for s in segments]
            results['gt_seg_map'] = slot_labels[inverse].reshape(ids.shape)
        if self.with_mask:
            is_thing = np.array([bool(s.get('is_thing')) for s in segments],
                                dtype=bool)
            things = slots[is_thing]
            masks = inverse.reshape(1, *ids.shape) == things[:, None, None]
            results['gt_masks'] = BitmapMasks(
                masks.astype(np.uint8), height, width)
