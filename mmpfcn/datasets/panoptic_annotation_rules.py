"""The structure a COCO panoptic annotation file must have.

MMDetection and pycocotools read a file that breaks it with a bare
``KeyError``, an ``AssertionError`` or a wrong message about some other file;
checking the parsed JSON first reports each fault by file, image id,
annotation, segment id and category id, with what to do about it. The
dataset (:class:`~mmpfcn.datasets.CheckedCocoPanopticDataset`) and
``tools/misc/check_dataset.py`` apply these rules.
"""
import json
from collections import defaultdict
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from mmengine import fileio

from .bad_data_error import BadDataError

# Largest segment id a panoptic PNG holds: R + 256 G + 256^2 B.
MAX_SEGMENT_ID = 256**3 - 1
# Problems a BadDataError message lists; it counts the others.
MAX_LISTED_PROBLEMS = 10
# What a JSON value of each Python type is called in messages.
JSON_KINDS = {
    dict: 'an object',
    list: 'a list',
    str: 'a string',
    int: 'a number',
    float: 'a number',
    bool: 'true or false',
    type(None): 'null',
}


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _name(value: Any) -> bool:
    return isinstance(value, str) and value != ''


def _image_id(value: Any) -> bool:
    return _whole(value) or _name(value)


def _size(value: Any) -> bool:
    return _whole(value) and value >= 1


def _segment_id(value: Any) -> bool:
    return _whole(value) and 1 <= value <= MAX_SEGMENT_ID


def _box(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 4
            and all(_number(v) for v in value) and min(value[2:]) >= 1)


# Fields each entry needs: a test of the value and what it must be. MMDetection
# drops a segment of zero area or a box under a pixel wide, after which the
# PNG's pixels of it look unlisted, so those are refused here.
Fields = Dict[str, Tuple[Callable[[Any], bool], str]]
IMAGE_FIELDS: Fields = {
    'id': (_image_id, 'a number or a string'),
    'file_name': (_name, 'the file name of the image'),
    'height': (_size, 'a whole number of pixels, at least 1'),
    'width': (_size, 'a whole number of pixels, at least 1'),
}
CATEGORY_FIELDS: Fields = {
    'id': (_whole, 'a whole number'),
    'name': (_name, 'the class name'),
    'isthing': (lambda value: value in (0, 1),
                '1 for a thing class or 0 for a stuff class'),
}
ANNOTATION_FIELDS: Fields = {
    'image_id': (_image_id, 'the id of an image of "images"'),
    'file_name': (_name, 'the file name of the panoptic PNG'),
    'segments_info': (lambda value: isinstance(value, list),
                      'a list of the segments of the PNG (empty for none)'),
}
SEGMENT_FIELDS: Fields = {
    'id': (_segment_id,
           f'a whole number from 1 to {MAX_SEGMENT_ID}: 0 is VOID in a '
           'panoptic PNG (pixels of no segment); give the segment another '
           'id, in the JSON and in its PNG'),
    'category_id': (_whole, 'the id of a category of "categories"'),
    'area': (lambda value: _number(value) and value > 0,
             'its number of pixels, at least 1; a segment without pixels '
             'has no place in the annotation'),
    'bbox': (_box, '[x, y, width, height] with width and height of at '
             'least 1 pixel'),
}


def _kind(value: Any) -> str:
    return JSON_KINDS.get(type(value), type(value).__name__)


def _listing(keys: List[str], last: str) -> str:
    """``keys`` quoted, as ``"a", "b" and "c"``."""
    quoted = [f'"{key}"' for key in keys]
    if len(quoted) == 1:
        return quoted[0]
    return f'{", ".join(quoted[:-1])} {last} {quoted[-1]}'


def _entry_problems(entry: Any, fields: Fields, where: str) -> List[str]:
    """Problems of one entry of a list of the file: not an object, fields
    missing or of the wrong kind."""
    if not isinstance(entry, dict):
        return [f'{where} is {_kind(entry)}, not an object']
    missing = [key for key in fields if key not in entry]
    problems = []
    if missing:
        problems.append(
            f'{where} has no {_listing(missing, "or")}: give it '
            f'{_listing(list(fields), "and")}')
    for key, (valid, expected) in fields.items():
        if key in entry and not valid(entry[key]):
            problems.append(
                f'{where} has {key} {json.dumps(entry[key])}, not {expected}')
    return problems


def _valid(entry: Any, fields: Fields, *keys: str) -> bool:
    """Whether ``entry`` is an object whose ``keys`` pass their test."""
    return isinstance(entry, dict) and all(
        key in entry and fields[key][0](entry[key]) for key in keys)


def _top_list(data: dict, key: str, file_name: str, needed: bool,
              problems: List[str]) -> Optional[list]:
    """``data[key]`` if it is a list, else ``None`` with the problem noted
    (a missing key only when ``needed``)."""
    if key not in data:
        if needed:
            problems.append(
                f'{file_name} has no "{key}" list: a COCO panoptic file '
                'lists "images", "annotations" (one per image, naming its '
                'panoptic PNG and listing its segments) and "categories"')
        return None
    if not isinstance(data[key], list):
        problems.append(
            f'{file_name}: "{key}" is {_kind(data[key])}, not a list')
        return None
    return data[key]


def _image_where(file_name: str, image: dict) -> str:
    """How messages name an image, as the dataset's own messages do."""
    return (f'{file_name}: image id {image["id"]} '
            f'(file_name "{image.get("file_name")}")')


def _duplicates(entries: Sequence[dict], key: str) -> Dict[Any, List[dict]]:
    """The entries sharing each value of ``key`` that several share."""
    groups = defaultdict(list)
    for entry in entries:
        groups[entry[key]].append(entry)
    return {value: group for value, group in groups.items() if len(group) > 1}


def _category_problems(categories: list, file_name: str,
                       problems: List[str]) -> List[dict]:
    """Note the problems of ``categories``; return those with a valid id
    and name (a class finds its category by name, a segment by id)."""
    valid = []
    for index, category in enumerate(categories):
        where = f'{file_name}: categories[{index}]'
        if _valid(category, CATEGORY_FIELDS, 'id'):
            where = f'{file_name}: category id {category["id"]}'
        problems.extend(_entry_problems(category, CATEGORY_FIELDS, where))
        if _valid(category, CATEGORY_FIELDS, 'id', 'name'):
            valid.append(category)
    for cat_id, group in _duplicates(valid, 'id').items():
        names = ', '.join(f'"{c["name"]}"' for c in group)
        problems.append(
            f'{file_name}: category id {cat_id} is listed {len(group)} times '
            f'({names}): give each category its own id')
    for name, group in _duplicates(valid, 'name').items():
        ids = ', '.join(str(c['id']) for c in group)
        problems.append(
            f'{file_name}: categories {ids} share the name "{name}": give '
            'each category its own name (the dataset finds a class\'s '
            'category by its name)')
    return valid


def _image_problems(images: list, file_name: str,
                    problems: List[str]) -> Dict[Any, dict]:
    """Note the problems of ``images``; return those with a valid id, by
    id (the first of several sharing one)."""
    with_id = []
    for index, image in enumerate(images):
        where = f'{file_name}: images[{index}]'
        if _valid(image, IMAGE_FIELDS, 'id'):
            where = _image_where(file_name, image)
            with_id.append(image)
        problems.extend(_entry_problems(image, IMAGE_FIELDS, where))
    for image_id, group in _duplicates(with_id, 'id').items():
        names = ', '.join(f'"{image.get("file_name")}"' for image in group)
        problems.append(
            f'{file_name}: image id {image_id} is listed {len(group)} times '
            f'in "images" ({names}): give each image its own id')
    by_id = {}
    for image in with_id:
        by_id.setdefault(image['id'], image)
    return by_id


def _metainfo_problems(metainfo: dict, categories: List[dict], file_name: str,
                       problems: List[str]) -> List[int]:
    """Note the problems of the dataset's ``metainfo`` against the file;
    return the ids of the dataset's categories, or all of the file's where
    a class has none (that problem is then noted once, not per segment)."""
    both = [
        name for name in metainfo.get('thing_classes', ())
        if name in metainfo.get('stuff_classes', ())
    ]
    if both:
        problems.append(
            f'{file_name}: the dataset\'s metainfo lists {both} in both '
            'thing_classes and stuff_classes: a class is a thing or stuff, '
            'so remove each from one of them')
    by_name = {category['name']: category['id'] for category in categories}
    classes = metainfo.get('classes', ())
    missing = [name for name in classes if name not in by_name]
    if missing:
        problems.append(
            f'{file_name} defines no category named {missing}, but the '
            'dataset\'s metainfo classes list them')
        return [category['id'] for category in categories]
    return [by_name[name] for name in classes]


def _segment_problems(segments: list, where: str,
                      category_ids: Optional[List[int]],
                      problems: List[str]) -> None:
    """Note the problems of one annotation's ``segments``; ``where`` names
    its image, ``category_ids`` are those segments may have (``None``: not
    known, as the file's categories are unusable)."""
    valid = []
    for index, segment in enumerate(segments):
        at = f'{where}: segments_info[{index}]'
        if _valid(segment, SEGMENT_FIELDS, 'id'):
            at = f'{where}: segment {segment["id"]}'
        problems.extend(_entry_problems(segment, SEGMENT_FIELDS, at))
        if not _valid(segment, SEGMENT_FIELDS, 'id', 'category_id'):
            continue
        valid.append(segment)
        if (category_ids is not None
                and segment['category_id'] not in category_ids):
            problems.append(
                f'{at} has category_id {segment["category_id"]}, which is '
                'not one of the dataset\'s categories '
                f'{sorted(category_ids)}')
    for seg_id, group in _duplicates(valid, 'id').items():
        problems.append(
            f'{where}: segment id {seg_id} is listed {len(group)} times: '
            'give each segment of an image its own id, in the JSON and in '
            'the PNG')


def _annotation_problems(annotations: list, images: Dict[Any, dict],
                         category_ids: Optional[List[int]], file_name: str,
                         every_image: bool, problems: List[str]) -> None:
    """Note the problems of ``annotations`` against the valid ``images``
    (by id): one annotation per image (at most one unless ``every_image``),
    segments of the ``category_ids`` (any if ``None``)."""
    annotated = defaultdict(list)
    for index, ann in enumerate(annotations):
        where = f'{file_name}: annotations[{index}]'
        if _valid(ann, ANNOTATION_FIELDS, 'image_id'):
            where = (f'{file_name}: the annotation of image id '
                     f'{ann["image_id"]} (file_name "{ann.get("file_name")}")')
            if ann['image_id'] in images:
                annotated[ann['image_id']].append(ann)
            else:
                problems.append(
                    f'{where} is for an image "images" does not list: add '
                    'the image to "images", or remove the annotation')
        problems.extend(_entry_problems(ann, ANNOTATION_FIELDS, where))
        if _valid(ann, ANNOTATION_FIELDS, 'segments_info'):
            if ann.get('image_id') in images:
                where = _image_where(file_name, images[ann['image_id']])
            _segment_problems(ann['segments_info'], where, category_ids,
                              problems)
    for image_id, image in images.items():
        anns = annotated.get(image_id, [])
        if not anns and every_image:
            problems.append(
                f'{_image_where(file_name, image)} has no annotation: add '
                'one naming its panoptic PNG and listing its segments, or '
                'remove the image')
        elif len(anns) > 1:
            pngs = ', '.join(f'"{ann.get("file_name")}"' for ann in anns)
            problems.append(
                f'{_image_where(file_name, image)} has {len(anns)} '
                f'annotations ({pngs}): give each image one annotation, '
                'listing all its segments')


def annotation_problems(data: dict,
                        file_name: str,
                        metainfo: Optional[dict] = None,
                        needs_annotations: bool = True) -> List[str]:
    """Every problem of the COCO panoptic annotation file ``file_name``,
    parsed as ``data``, each naming the file and the image id, annotation,
    segment id or category id concerned; empty for a sound file.

    Args:
        data (dict): The parsed JSON.
        file_name (str): Its path, for the messages.
        metainfo (dict, optional): The dataset's: its ``classes`` must be
            categories of the file and each segment's category one of them,
            and no class may be in both ``thing_classes`` and
            ``stuff_classes``.
        needs_annotations (bool): Whether the dataset reads panoptic PNGs,
            which needs ``annotations`` and one for every image; a file of
            image information only (COCO's test-dev) may lack them.
    """
    problems = []
    categories = _top_list(data, 'categories', file_name, True, problems)
    images = _top_list(data, 'images', file_name, True, problems)
    annotations = _top_list(data, 'annotations', file_name,
                            needs_annotations, problems)
    category_ids = None
    if categories is not None:
        valid = _category_problems(categories, file_name, problems)
        category_ids = [category['id'] for category in valid]
        if metainfo is not None:
            category_ids = _metainfo_problems(metainfo, valid, file_name,
                                              problems)
    valid_images = _image_problems(images or [], file_name, problems)
    if annotations is not None:
        _annotation_problems(annotations, valid_images, category_ids,
                             file_name, needs_annotations, problems)
    return problems


def read_annotation_file(path: str,
                         backend_args: Optional[dict] = None) -> dict:
    """The parsed JSON object of the annotation file at ``path``.

    Raises :class:`BadDataError` naming the file when it cannot be read, is
    not JSON (truncated, corrupt) or holds something else than an object.
    """
    try:
        content = fileio.get(path, backend_args=backend_args)
    except OSError as error:
        raise BadDataError(
            f'Cannot read annotation file {path}: {error}') from error
    try:
        data = json.loads(content)
    except ValueError as error:
        raise BadDataError(
            f'{path} is not valid JSON ({error}; {len(content)} bytes): the '
            'file is truncated or corrupt; write or download it again'
        ) from error
    if not isinstance(data, dict):
        raise BadDataError(
            f'{path} holds {_kind(data)}, not the object of a COCO panoptic '
            'annotation file (with "images", "annotations" and '
            '"categories")')
    return data


def problems_message(problems: Sequence[str]) -> str:
    """One message for ``problems``: a single one as it is, else their
    count and the first :data:`MAX_LISTED_PROBLEMS`, one a line."""
    if len(problems) == 1:
        return problems[0]
    lines = [f'{len(problems)} problems:', *problems[:MAX_LISTED_PROBLEMS]]
    if len(problems) > MAX_LISTED_PROBLEMS:
        lines.append(
            f'... and {len(problems) - MAX_LISTED_PROBLEMS} more; '
            'tools/misc/check_dataset.py lists them all')
    return '\n'.join(lines)
