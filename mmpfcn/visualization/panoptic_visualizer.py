"""MMDetection's local visualizer, able to draw any panoptic prediction."""
import colorsys
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
from mmdet.evaluation import INSTANCE_OFFSET
from mmdet.registry import VISUALIZERS
from mmdet.visualization import DetLocalVisualizer, get_palette
from mmengine.structures import InstanceData, PixelData

# Hue step of the extra colours: successive hues stay far apart.
GOLDEN_RATIO_CONJUGATE = 0.618033988749895


def extra_colours(num: int,
                  taken: Sequence[Sequence[int]]) -> List[Tuple[int, ...]]:
    """``num`` distinct saturated RGB colours, none of them in ``taken``."""
    taken = {tuple(colour) for colour in taken}
    colours: List[Tuple[int, ...]] = []
    step = 0
    while len(colours) < num:
        hue = step * GOLDEN_RATIO_CONJUGATE % 1
        colour = tuple(
            round(255 * c) for c in colorsys.hsv_to_rgb(hue, 0.7, 0.95))
        step += 1
        if colour not in taken and colour not in colours:
            colours.append(colour)
    return colours


def fit_classes(classes: Optional[Sequence[str]], palette: Any,
                num_labels: int) -> Tuple[List[str], Any]:
    """Class names for labels ``0 .. num_labels - 1`` and a palette that
    covers them.

    Labels beyond ``classes`` are named ``'class <label>'``, as MMDetection
    names labels when it has no classes. The palette becomes a list (as
    MMDet's semantic drawing indexes it) at least as long as the names: a
    named one (``'coco'``) is its list, ``'random'`` or one colour is
    repeated by MMDet's ``get_palette``, and a list shorter than the names is
    extended by :func:`extra_colours`.
    """
    names = list(classes or ())
    names += [f'class {label}' for label in range(len(names), num_labels)]
    if not isinstance(palette, list):
        palette = get_palette(palette, 0) or get_palette(palette, len(names))
    if len(palette) < len(names):
        palette = palette + extra_colours(len(names) - len(palette), palette)
    return names, palette


def num_labels_in(labels: np.ndarray) -> int:
    """How many labels ``0 .. max`` the label array ``labels`` needs."""
    return int(labels.max()) + 1 if labels.size else 0


@VISUALIZERS.register_module()
class PanopticVisualizer(DetLocalVisualizer):
    """``DetLocalVisualizer`` that draws predictions whatever their labels.

    MMDetection 3.3 fails on what an untrained model, a checkpoint without
    ``dataset_meta`` (``DetInferencer`` then uses COCO's 80 class names) or
    strict thresholds give: a palette shorter than the labels
    (``get_palette``), labels beyond the class names (``IndexError``), a
    panoptic map whose every pixel is void (``np.stack`` of no segment). Here
    labels beyond the classes are named ``'class <label>'``, the palette is
    extended with distinct colours (:func:`fit_classes`) and an all-void map
    is drawn as the bare image. Used by the configs' ``visualizer``
    (``tools/test.py --show-dir``, ``DetInferencer``) and the main job's
    overlays.
    """

    def _draw_instances(self, image: np.ndarray, instances: InstanceData,
                        classes: Optional[Sequence[str]],
                        palette: Any) -> np.ndarray:
        labels = np.asarray(instances.get('labels', []))
        classes, palette = fit_classes(classes, palette, num_labels_in(labels))
        return super()._draw_instances(image, instances, classes, palette)

    def _draw_sem_seg(self, image: np.ndarray, sem_seg: PixelData,
                      classes: Optional[Sequence[str]],
                      palette: Any) -> np.ndarray:
        labels = np.asarray(sem_seg.sem_seg)
        labels = labels[labels != sem_seg.metainfo.get('ignore_index', 255)]
        classes, palette = fit_classes(classes, palette,
                                       num_labels_in(labels))
        return super()._draw_sem_seg(image, sem_seg, classes, palette)

    def _draw_panoptic_seg(self, image: np.ndarray, panoptic_seg: PixelData,
                           classes: Sequence[str], palette: Any) -> np.ndarray:
        if 'label_names' in panoptic_seg:
            classes = panoptic_seg.metainfo['label_names']
            void = panoptic_seg.metainfo.get('ignore_index', len(classes))
        else:
            void = len(classes)
        ids = np.asarray(panoptic_seg.sem_seg)
        ids = ids[ids != void]
        if ids.size == 0:
            return image
        names, palette = fit_classes(classes, palette,
                                     num_labels_in(ids % INSTANCE_OFFSET))
        # As open-set label names, so that MMDet keeps ``void`` as void.
        fitted = PixelData(
            sem_seg=panoptic_seg.sem_seg,
            metainfo=dict(label_names=names, ignore_index=void))
        return super()._draw_panoptic_seg(image, fitted, names, palette)
