"""Image loading that names the file of an unreadable image."""
from typing import Optional

import mmcv
from mmcv.transforms import LoadImageFromFile
from mmdet.registry import TRANSFORMS
from mmengine import fileio

from ..bad_data_error import BadDataError


@TRANSFORMS.register_module()
class LoadCheckedImageFromFile(LoadImageFromFile):
    """:class:`mmcv.transforms.LoadImageFromFile` with checked content.

    Raises :class:`~mmpfcn.datasets.BadDataError` naming the file when the
    image is missing, unreadable, empty, truncated or not an image, and when
    its size differs from the ``height``/``width`` of its annotation. With
    the default ``color_type='color'`` (OpenCV), grayscale, RGBA and 16-bit
    images are converted to 8-bit, 3-channel BGR (16-bit values are divided
    by 256).
    """

    def transform(self, results: dict) -> Optional[dict]:
        filename = results['img_path']
        try:
            img_bytes = fileio.get(filename, backend_args=self.backend_args)
            # OpenCV asserts on no bytes instead of failing to decode them.
            img = mmcv.imfrombytes(
                img_bytes, flag=self.color_type,
                backend=self.imdecode_backend) if img_bytes else None
        except OSError as error:
            if self.ignore_empty:
                return None
            raise BadDataError(
                f'Cannot read image {filename}: {error}') from error
        if img is None:
            if self.ignore_empty:
                return None
            raise BadDataError(
                f'Cannot decode image {filename} ({len(img_bytes)} bytes): '
                'the file is truncated, corrupt or not an image')
        expected = (results.get('height'), results.get('width'))
        if None not in expected and tuple(img.shape[:2]) != expected:
            raise BadDataError(
                f'Image {filename} is {img.shape[1]}x{img.shape[0]} '
                f'(width x height) but its annotation (image id '
                f'{results.get("img_id")}) says {expected[1]}x{expected[0]}')
        if self.to_float32:
            img = img.astype('float32')
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results
