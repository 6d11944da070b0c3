"""Per-image semantic and instance masks to COCO panoptic files and back.

Users often have their annotations as two masks per image rather than as
COCO panoptic files. The mask format, for an image ``<stem>.<ext>`` directly
in an image folder:

- ``<mask_dir>/semantic/<stem>.png`` (required; 8- or 16-bit, one channel):
  per pixel the 0-based index of its class in the class list, or
  ``ignore_index`` (255 by default) for void / unlabelled pixels.
- ``<mask_dir>/instances/<stem>.png`` (8- or 16-bit, one channel; may be
  absent for an image without things): per pixel an instance id 0..999,
  0 = no instance. A thing segment is the pixels of one (class, instance id)
  pair, so ids need not be consecutive nor unique across classes. Thing
  pixels with instance 0 form one crowd segment (``iscrowd=1``) of their
  class, as in Cityscapes; stuff pixels form one segment per class and must
  have instance 0. Instance ids on void pixels are ignored.

The classes file is a JSON list of ``{"name": str, "isthing": 0 or 1}`` in
semantic-index order; things and stuff may interleave. Category ids are
1..N in that order and a segment's id is ``category_id * 1000 +
instance_id`` (instance 0 for stuff and crowd), stored in the panoptic PNGs
with panopticapi's ``id2rgb``. Datasets map categories to labels by name, so
their ``metainfo`` may list the classes in another order (things first).

Bad input raises :class:`BadDataError` naming the file and the fault.
"""
import colorsys
import json
import os
import os.path as osp
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np
from panopticapi.utils import id2rgb, rgb2id
from PIL import Image

from ..utils import atomic_write
from .bad_data_error import BadDataError

# Segment id = category id * ID_STRIDE + instance id.
ID_STRIDE = 1000
# Most classes whose segment ids (instance ids up to 999) fit in the 24 bits
# of a panoptic PNG.
MAX_CATEGORIES = (2**24 - 1) // ID_STRIDE - 1
# Largest value a 16-bit mask can hold.
MAX_MASK_VALUE = 2**16 - 1
# Image files :func:`convert_mask_folder` picks up, by extension.
IMAGE_EXTENSIONS = ('.bmp', '.jpeg', '.jpg', '.png', '.tif', '.tiff', '.webp')
# PIL modes of one-channel 8- and 16-bit PNGs.
MASK_MODES = ('L', 'P', 'I', 'I;16', 'I;16B')


def check_classes(classes: Sequence[dict], ignore_index: int) -> np.ndarray:
    """Whether each class of ``classes`` is a thing; raises
    :class:`BadDataError` for a list the conversion cannot use."""
    if not isinstance(classes, (list, tuple)) or not classes:
        raise BadDataError('the class list must be a non-empty JSON list')
    for index, cls in enumerate(classes):
        if (not isinstance(cls, dict) or not isinstance(cls.get('name'), str)
                or cls.get('isthing') not in (0, 1)):
            raise BadDataError(
                f'class {index} is {cls!r}: each class must be '
                '{"name": str, "isthing": 0 or 1}')
    counts = Counter(cls['name'] for cls in classes)
    duplicates = sorted(name for name, count in counts.items() if count > 1)
    if duplicates:
        raise BadDataError(f'duplicate class names {duplicates}')
    if len(classes) > MAX_CATEGORIES:
        raise BadDataError(f'{len(classes)} classes; at most '
                           f'{MAX_CATEGORIES} fit in a panoptic PNG')
    if not len(classes) <= ignore_index <= MAX_MASK_VALUE:
        raise BadDataError(
            f'ignore_index {ignore_index} must be {len(classes)} (the number '
            f'of classes) or more and fit in a 16-bit mask')
    return np.array([bool(cls['isthing']) for cls in classes])


def describe_pixels(mask: np.ndarray) -> str:
    """How many pixels ``mask`` selects and where the first one is."""
    y, x = np.argwhere(mask)[0]
    return f'{int(mask.sum())} pixel(s), the first at x={x}, y={y}'


def size(pixels: np.ndarray) -> str:
    """``HxW`` of an image or mask."""
    return f'{pixels.shape[0]}x{pixels.shape[1]}'


def segment_info(panoptic_ids: np.ndarray, segment_id: int,
                 isthing: np.ndarray) -> dict:
    """The COCO ``segments_info`` entry of one segment of
    :func:`masks_to_panoptic`'s ids."""
    mask = panoptic_ids == segment_id
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    category_id = segment_id // ID_STRIDE
    crowd = isthing[category_id - 1] and segment_id % ID_STRIDE == 0
    return dict(
        id=segment_id,
        category_id=category_id,
        iscrowd=int(crowd),
        area=int(mask.sum()),
        bbox=[
            int(cols[0]),
            int(rows[0]),
            int(cols[-1] - cols[0] + 1),
            int(rows[-1] - rows[0] + 1)
        ])


def masks_to_panoptic(
    semantic: np.ndarray,
    instances: Optional[np.ndarray],
    classes: Sequence[dict],
    ignore_index: int = 255,
    names: Tuple[str, str] = ('the semantic mask', 'the instance mask')
) -> Tuple[np.ndarray, List[dict]]:
    """Panoptic segment ids and ``segments_info`` of one image's masks.

    Args:
        semantic (np.ndarray): ``(H, W)`` class indices, ``ignore_index``
            for void.
        instances (np.ndarray, optional): ``(H, W)`` instance ids; ``None``
            for all 0.
        classes (list[dict]): ``{"name", "isthing"}`` per class index.
        ignore_index (int): The void value of ``semantic``.
        names (tuple[str, str]): What error messages call the two masks
            (their files).

    Returns:
        tuple: ``(H, W)`` int32 segment ids (0 = void) and the COCO
        ``segments_info`` (id, category_id, iscrowd, area, bbox as
        ``[x, y, w, h]``) ordered by id.
    """
    isthing = check_classes(classes, ignore_index)
    semantic_name, instances_name = names
    if semantic.ndim != 2:
        raise BadDataError(f'{semantic_name} has shape {semantic.shape}; '
                           'a mask has one channel')
    if instances is None:
        instances = np.zeros_like(semantic)
    if instances.shape != semantic.shape:
        raise BadDataError(
            f'{instances_name} is {size(instances)} but {semantic_name} is '
            f'{size(semantic)} (height x width)')
    semantic = semantic.astype(np.int64)
    instances = instances.astype(np.int64)
    labelled = semantic != ignore_index
    outside = labelled & ((semantic < 0) | (semantic >= len(classes)))
    if outside.any():
        raise BadDataError(
            f'{semantic_name}: class index '
            f'{np.unique(semantic[outside]).tolist()} is outside the '
            f'{len(classes)} classes (0..{len(classes) - 1}, void '
            f'{ignore_index}), at {describe_pixels(outside)}')
    class_index = np.where(labelled, semantic, 0)
    things = labelled & isthing[class_index]
    on_stuff = labelled & ~things & (instances != 0)
    if on_stuff.any():
        stuff = sorted({classes[i]['name'] for i in class_index[on_stuff]})
        raise BadDataError(
            f'{instances_name}: instance id on stuff class(es) {stuff} at '
            f'{describe_pixels(on_stuff)}; stuff pixels must have instance 0')
    bad_ids = things & ((instances < 0) | (instances >= ID_STRIDE))
    if bad_ids.any():
        raise BadDataError(
            f'{instances_name}: instance id '
            f'{np.unique(instances[bad_ids]).tolist()} at '
            f'{describe_pixels(bad_ids)}; instance ids must be 0..'
            f'{ID_STRIDE - 1}')
    panoptic_ids = np.where(labelled, (class_index + 1) * ID_STRIDE, 0)
    panoptic_ids = (panoptic_ids + np.where(things, instances, 0)).astype(
        np.int32)
    segments_info = [
        segment_info(panoptic_ids, int(segment_id), isthing)
        for segment_id in np.unique(panoptic_ids) if segment_id != 0
    ]
    return panoptic_ids, segments_info


def instance_ids(segments_info: Sequence[dict],
                 thing_categories: Set[int]) -> List[int]:
    """Instance id of each segment: read back from ids that
    :func:`masks_to_panoptic` wrote (``category_id * 1000 + instance``),
    else the image's non-crowd things numbered 1..k in order; 0 for stuff
    and crowd."""
    has_instance = [
        seg['category_id'] in thing_categories and not seg.get('iscrowd', 0)
        for seg in segments_info
    ]
    encoded = [
        seg['id'] - seg['category_id'] * ID_STRIDE for seg in segments_info
    ]
    if all((0 < instance < ID_STRIDE) if thing else instance == 0
           for instance, thing in zip(encoded, has_instance)):
        return encoded
    numbered = np.cumsum(has_instance) * np.array(has_instance)
    return numbered.tolist()


def mask_dtype(max_value: int) -> type:
    """The smaller of uint8 and uint16 that holds ``max_value``."""
    return np.uint8 if max_value <= np.iinfo(np.uint8).max else np.uint16


def panoptic_to_masks(
    panoptic_ids: np.ndarray,
    segments_info: Sequence[dict],
    classes: Sequence[dict],
    ignore_index: int = 255,
    category_ids: Optional[Sequence[int]] = None,
    name: str = 'the panoptic PNG'
) -> Tuple[np.ndarray, np.ndarray]:
    """Semantic and instance masks of one image's panoptic segments; the
    exact inverse of :func:`masks_to_panoptic`.

    Args:
        panoptic_ids (np.ndarray): ``(H, W)`` segment ids (``rgb2id`` of a
            panoptic PNG), 0 for void.
        segments_info (list[dict]): The image's COCO segments.
        classes (list[dict]): ``{"name", "isthing"}`` per class index.
        ignore_index (int): The semantic value of void pixels.
        category_ids (list[int], optional): The category id of each class;
            1..N by default, as :func:`masks_to_panoptic` numbers them.
        name (str): What error messages call the panoptic ids (its file).

    Returns:
        tuple: ``(H, W)`` semantic and instance masks, uint8 where the
        values fit, else uint16. Instance ids are those of the segment ids
        when :func:`masks_to_panoptic` wrote them, else 1..k per image (see
        :func:`instance_ids`).
    """
    isthing = check_classes(classes, ignore_index)
    if category_ids is None:
        category_ids = range(1, len(classes) + 1)
    class_of = {cat_id: index for index, cat_id in enumerate(category_ids)}
    ids = [seg['id'] for seg in segments_info]
    if len(set(ids)) != len(ids):
        raise BadDataError(f'{name}: segments_info lists a segment id twice '
                           f'({ids})')
    unknown = [
        seg['category_id'] for seg in segments_info
        if seg['category_id'] not in class_of
    ]
    if unknown:
        raise BadDataError(
            f'{name}: segments_info has category id(s) {unknown} that are '
            f'not among the categories {list(class_of)}')
    thing_categories = {
        cat_id for cat_id, index in class_of.items() if isthing[index]
    }
    instances_of = dict(zip(ids, instance_ids(segments_info,
                                              thing_categories)))
    semantic_of = {
        seg['id']: class_of[seg['category_id']] for seg in segments_info
    }
    present, inverse = np.unique(panoptic_ids, return_inverse=True)
    unlisted = [int(i) for i in present if i != 0 and i not in semantic_of]
    if unlisted:
        raise BadDataError(f'{name} has pixels of segment id(s) {unlisted} '
                           'that segments_info does not list')
    semantic_lut = np.array(
        [semantic_of.get(int(i), ignore_index) for i in present])
    instance_lut = np.array([instances_of.get(int(i), 0) for i in present])
    semantic = semantic_lut[inverse].reshape(panoptic_ids.shape)
    instances = instance_lut[inverse].reshape(panoptic_ids.shape)
    # check_classes made ignore_index the largest semantic value.
    return (semantic.astype(mask_dtype(ignore_index)),
            instances.astype(mask_dtype(int(instances.max(initial=0)))))


def read_png(path: str, modes: Sequence[str]) -> np.ndarray:
    """The pixels of the PNG at ``path``, which must have one of the PIL
    ``modes``."""
    try:
        with Image.open(path) as image:
            image.load()
            mode, pixels = image.mode, np.array(image)
    except (OSError, SyntaxError, ValueError) as error:
        raise BadDataError(f'{path}: cannot read the PNG ({error})') from None
    if mode not in modes:
        raise BadDataError(f'{path}: a PNG of mode {mode}; expected one of '
                           f'{list(modes)}')
    return pixels


def write_png(path: str, pixels: np.ndarray) -> None:
    """Save ``pixels`` (uint8 / uint16 masks, uint8 RGB) as a PNG that
    appears complete or not at all."""
    with atomic_write(path) as file:
        Image.fromarray(pixels).save(file, format='PNG')


def write_json(path: str, data: Any) -> None:
    """Save ``data`` as JSON that appears complete or not at all."""
    with atomic_write(path, 'w', encoding='utf-8') as file:
        json.dump(data, file)


def read_json(path: str) -> Any:
    """The JSON at ``path``, or a :class:`BadDataError` naming it."""
    try:
        with open(path, encoding='utf-8') as file:
            return json.load(file)
    except (OSError, ValueError) as error:
        raise BadDataError(f'{path}: cannot read the JSON ({error})') from None


def category_color(index: int) -> List[int]:
    """A colour per category, hues spread by the golden ratio."""
    rgb = colorsys.hsv_to_rgb((index * 0.618034) % 1.0, 0.65, 0.95)
    return [round(255 * channel) for channel in rgb]


def image_names(image_dir: str) -> List[str]:
    """The image files directly in ``image_dir``, sorted, with distinct
    stems (the stem names the masks)."""
    try:
        names = sorted(name for name in os.listdir(image_dir)
                       if osp.splitext(name)[1].lower() in IMAGE_EXTENSIONS)
    except OSError as error:
        raise BadDataError(
            f'{image_dir}: cannot list the images ({error})') from None
    if not names:
        raise BadDataError(
            f'{image_dir}: no image (files ending in {IMAGE_EXTENSIONS})')
    first_of = {}
    for name in names:
        stem = osp.splitext(name)[0]
        if stem in first_of:
            raise BadDataError(
                f'{image_dir}: images {first_of[stem]} and {name} share the '
                f'stem "{stem}", so they would share their masks')
        first_of[stem] = name
    return names


def summary(annotations: Sequence[dict]) -> Dict[str, int]:
    """The numbers of images, segments and crowd segments of
    ``annotations``."""
    segments = [seg for ann in annotations for seg in ann['segments_info']]
    return dict(
        images=len(annotations),
        segments=len(segments),
        crowd_segments=sum(bool(seg.get('iscrowd')) for seg in segments))


def convert_mask_folder(image_dir: str,
                        mask_dir: str,
                        classes_file: str,
                        out_json: str,
                        out_png_dir: str,
                        ignore_index: int = 255) -> Dict[str, int]:
    """Write the COCO panoptic JSON and PNGs of a folder of images and their
    masks (the format of the module docstring).

    The JSON's ``images`` have ids 1.. in file name order and ``file_name``
    relative to ``image_dir``; its annotations name the PNGs
    ``<stem>.png`` in ``out_png_dir``. The JSON is written last, each file
    under a temporary name first, so a crash leaves no partial file.

    Returns:
        dict: The numbers of ``images``, ``segments`` and
        ``crowd_segments`` written.
    """
    classes = read_json(classes_file)
    try:
        check_classes(classes, ignore_index)
    except BadDataError as error:
        raise BadDataError(f'{classes_file}: {error}') from None
    images, annotations = [], []
    for image_id, name in enumerate(image_names(image_dir), start=1):
        image_path = osp.join(image_dir, name)
        try:
            with Image.open(image_path) as image:
                width, height = image.size
        except OSError as error:
            raise BadDataError(
                f'{image_path}: cannot read the image ({error})') from None
        stem = osp.splitext(name)[0]
        semantic_path = osp.join(mask_dir, 'semantic', f'{stem}.png')
        instances_path = osp.join(mask_dir, 'instances', f'{stem}.png')
        if not osp.isfile(semantic_path):
            raise BadDataError(
                f'{semantic_path}: missing; it is the semantic mask of '
                f'{image_path}')
        semantic = read_png(semantic_path, MASK_MODES)
        instances = (read_png(instances_path, MASK_MODES)
                     if osp.isfile(instances_path) else None)
        if semantic.shape != (height, width):
            raise BadDataError(
                f'{semantic_path}: the mask is {size(semantic)} but the image '
                f'{image_path} is {height}x{width} (height x width)')
        panoptic_ids, segments_info = masks_to_panoptic(
            semantic, instances, classes, ignore_index,
            (semantic_path, instances_path))
        write_png(osp.join(out_png_dir, f'{stem}.png'), id2rgb(panoptic_ids))
        images.append(
            dict(id=image_id, file_name=name, width=width, height=height))
        annotations.append(
            dict(
                image_id=image_id,
                file_name=f'{stem}.png',
                segments_info=segments_info))
    categories = [
        dict(
            id=index + 1,
            name=cls['name'],
            isthing=int(cls['isthing']),
            supercategory='thing' if cls['isthing'] else 'stuff',
            color=category_color(index)) for index, cls in enumerate(classes)
    ]
    write_json(
        out_json,
        dict(images=images, annotations=annotations, categories=categories))
    return summary(annotations)


def export_mask_folder(panoptic_json: str,
                       panoptic_png_dir: str,
                       out_mask_dir: str,
                       ignore_index: int = 255) -> Dict[str, int]:
    """Write the masks of a COCO panoptic JSON and its PNGs (the format of
    the module docstring): ``semantic/`` and ``instances/`` with one PNG per
    annotated image, named by the image's file name, and ``classes.json``.

    Class indices follow the JSON's ``categories``; instance ids are those
    :func:`convert_mask_folder` wrote, else each image's non-crowd things
    numbered 1..k in JSON order (see :func:`instance_ids`).

    Returns:
        dict: The numbers of ``images``, ``segments`` and
        ``crowd_segments`` exported.
    """
    data = read_json(panoptic_json)
    classes = [
        dict(name=cat['name'], isthing=int(cat['isthing']))
        for cat in data['categories']
    ]
    try:
        check_classes(classes, ignore_index)
    except BadDataError as error:
        raise BadDataError(f'{panoptic_json}: {error}') from None
    category_ids = [cat['id'] for cat in data['categories']]
    images = {image['id']: image for image in data['images']}
    for ann in data['annotations']:
        image = images.get(ann['image_id'])
        if image is None:
            raise BadDataError(
                f'{panoptic_json}: annotation {ann["file_name"]} has image id '
                f'{ann["image_id"]}, which no image has')
        png_path = osp.join(panoptic_png_dir, ann['file_name'])
        rgb = read_png(png_path, ('RGB', ))
        if rgb.shape[:2] != (image['height'], image['width']):
            raise BadDataError(
                f'{png_path}: the PNG is {size(rgb)} but its image '
                f'{image["file_name"]} is {image["height"]}x{image["width"]} '
                '(height x width)')
        semantic, instances = panoptic_to_masks(
            rgb2id(rgb), ann['segments_info'], classes, ignore_index,
            category_ids, png_path)
        stem = osp.splitext(image['file_name'])[0]
        write_png(osp.join(out_mask_dir, 'semantic', f'{stem}.png'), semantic)
        write_png(
            osp.join(out_mask_dir, 'instances', f'{stem}.png'), instances)
    write_json(osp.join(out_mask_dir, 'classes.json'), classes)
    return summary(data['annotations'])
