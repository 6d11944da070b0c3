"""MMDetection's local visualizer, able to draw panoptic maps with no segment."""
import numpy as np
from mmdet.registry import VISUALIZERS
from mmdet.visualization import DetLocalVisualizer
from mmengine.structures import PixelData


@VISUALIZERS.register_module()
class PanopticVisualizer(DetLocalVisualizer):
    """``DetLocalVisualizer`` whose panoptic drawing accepts an all-void map.

    MMDetection 3.3 fails (``np.stack`` of no segment areas) on a panoptic map
    whose every pixel is void, which an untrained model or strict thresholds
    produce; such a map is drawn as the bare image. Used by the configs'
    ``visualizer`` (``tools/test.py --show-dir``) and the main job's overlays.
    """

    def _draw_panoptic_seg(self, image: np.ndarray, panoptic_seg: PixelData,
                           classes, palette) -> np.ndarray:
        if 'label_names' in panoptic_seg:
            void = panoptic_seg.metainfo.get(
                'ignore_index', len(panoptic_seg.metainfo['label_names']))
        else:
            void = len(classes)
        if bool((panoptic_seg.sem_seg == void).all()):
            return image
        return super()._draw_panoptic_seg(image, panoptic_seg, classes, palette)
