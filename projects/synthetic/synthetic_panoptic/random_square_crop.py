"""A random square window of a square image: scale and shift jitter that
keeps shapes undistorted."""
import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomSquareCrop(BaseTransform):
    """Crop a random square whose side is between ``min_ratio`` and 1 times
    the image's shorter side, at a random position.

    Unlike :class:`mmdet.datasets.transforms.RandomCrop` with a relative
    range, height and width are cropped by the same ratio, so a resize to a
    square afterwards does not stretch the shapes a classifier learns from.
    It crops the image only (the thing crops of
    :class:`ThingCropDataset` carry a label, no boxes).

    Args:
        min_ratio (float): Smallest window side over the image side, in
            ``(0, 1]``.
    """

    def __init__(self, min_ratio: float = 0.7) -> None:
        if not 0 < min_ratio <= 1:
            raise ValueError(
                f'RandomSquareCrop: min_ratio must be in (0, 1], got {min_ratio}')
        self.min_ratio = min_ratio

    def transform(self, results: dict) -> dict:
        img = results['img']
        height, width = img.shape[:2]
        short = min(height, width)
        side = np.random.randint(int(np.ceil(self.min_ratio * short)), short + 1)
        top = np.random.randint(0, height - side + 1)
        left = np.random.randint(0, width - side + 1)
        results['img'] = img[top:top + side, left:left + side]
        results['img_shape'] = (side, side)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(min_ratio={self.min_ratio})'
