"""Synthetic panoptic dataset in the exact COCO panoptic format.

Things are geometric shapes whose class is given only by their shape (colour
and texture are drawn per instance, independently of the class); stuff are
large irregular regions whose class is given by their texture family. The
images are small enough to train a narrow Panoptic FCN on a CPU in minutes,
yet contain occlusion, touching same-class instances, cut-off objects and a
wide range of object scales, so that the result means something.

Layout written by :func:`generate_synthetic_panoptic` (as COCO panoptic)::

    <out_dir>/train/000001.png ...             RGB images (lossless PNG)
    <out_dir>/val/000001.png ...
    <out_dir>/annotations/panoptic_train/*.png  panoptic PNGs (id2rgb)
    <out_dir>/annotations/panoptic_val/*.png
    <out_dir>/annotations/panoptic_train.json
    <out_dir>/annotations/panoptic_val.json
    <out_dir>/meta.json                         parameters, written last
"""
import json
import os
import os.path as osp
from functools import partial
from multiprocessing import get_context
from typing import Callable, Dict, List, Sequence, Tuple

import mmcv
import numpy as np
from panopticapi.utils import id2rgb
from PIL import Image

THING_CLASSES: Tuple[str, ...] = ('circle', 'square', 'triangle', 'star',
                                  'ring', 'cross')
STUFF_CLASSES: Tuple[str, ...] = ('stripes', 'checker', 'dots', 'noise')
# MMDet label order: things first, then stuff.
SYNTHETIC_CLASSES: Tuple[str, ...] = THING_CLASSES + STUFF_CLASSES
# Visualisation colour per class (MMDet's ``palette`` metainfo).
SYNTHETIC_PALETTE = ((220, 20, 60), (0, 130, 200), (60, 180, 75),
                     (245, 130, 48), (145, 30, 180), (70, 240, 240),
                     (128, 128, 0), (170, 110, 40), (90, 90, 90),
                     (250, 190, 210))  # yapf: disable
NUM_THING_CLASSES = len(THING_CLASSES)
NUM_STUFF_CLASSES = len(STUFF_CLASSES)
# Category id = MMDet label + 1 (things 1..6, stuff 7..10).
SYNTHETIC_CATEGORIES: List[dict] = [
    dict(
        id=label + 1,
        name=name,
        supercategory='shape' if label < NUM_THING_CLASSES else 'texture',
        isthing=int(label < NUM_THING_CLASSES))
    for label, name in enumerate(SYNTHETIC_CLASSES)
]
SYNTHETIC_METAINFO: Dict[str, Sequence] = dict(
    classes=SYNTHETIC_CLASSES,
    thing_classes=THING_CLASSES,
    stuff_classes=STUFF_CLASSES,
    # A list: MMDet's get_palette takes a tuple for one colour for all.
    palette=list(SYNTHETIC_PALETTE),
    # Category id of each label, as CheckedCocoPanopticDataset records them.
    category_ids=tuple(cat['id'] for cat in SYNTHETIC_CATEGORIES))

SPLITS: Tuple[str, ...] = ('train', 'val')
# Default split sizes: enough distinct things that shape recognition does not
# just memorise the training set within the main job's budget.
DEFAULT_NUM_TRAIN = 3000
DEFAULT_NUM_VAL = 100
FORMAT_VERSION = 1
MAX_THINGS = 10
# A thing is dropped when less than this much of it stays visible.
MIN_VISIBLE_AREA = 16
MIN_VISIBLE_FRACTION = 0.3
# Segment id = image_id * SEGMENT_ID_STRIDE + k (k >= 1): unique within a
# split, as COCO's mostly are, which keeps COCOPanoptic's id index small.
SEGMENT_ID_STRIDE = 32
# Every tenth image (index % 10 == 0) has no things; index % 10 == 5 has a
# single stuff class and things.
NO_THINGS_PHASE = 0
ONE_STUFF_PHASE = 5

Coords = Tuple[np.ndarray, np.ndarray]
Params = Dict[str, float]


def _smooth_noise(rng: np.random.Generator, height: int, width: int,
                  cells: int) -> np.ndarray:
    """Value noise: a ``cells x cells`` Gaussian grid, smoothstep-upsampled.

    Used for wavy stuff borders, blotchy textures and shading; roughly zero
    mean with a standard deviation a bit below one.
    """
    grid = rng.standard_normal((cells + 1, cells + 1))

    def axis(n: int) -> Tuple[np.ndarray, np.ndarray]:
        pos = (np.arange(n) + 0.5) * (cells / n)
        idx = np.minimum(pos.astype(np.int64), cells - 1)
        frac = pos - idx
        return idx, frac * frac * (3 - 2 * frac)

    yi, fy = axis(height)
    xi, fx = axis(width)
    rows = grid[yi] * (1 - fy)[:, None] + grid[yi + 1] * fy[:, None]
    return rows[:, xi] * (1 - fx) + rows[:, xi + 1] * fx


def _rotated(coords: Coords, angle: float) -> Coords:
    """Pixel coordinates rotated by ``angle`` (texture orientation)."""
    yy, xx = coords
    c, s = np.cos(angle), np.sin(angle)
    return xx * c + yy * s, yy * c - xx * s


def _stripes(rng: np.random.Generator, coords: Coords) -> np.ndarray:
    """Sinusoidal stripes with sharpened edges, random period and angle."""
    u, _ = _rotated(coords, rng.uniform(0, np.pi))
    period = rng.uniform(5, 14)
    wave = np.sin(2 * np.pi * u / period + rng.uniform(0, 2 * np.pi))
    return np.clip(0.5 + 1.5 * wave, 0, 1)


def _checker(rng: np.random.Generator, coords: Coords) -> np.ndarray:
    """Rotated checkerboard with a random cell size."""
    u, v = _rotated(coords, rng.uniform(0, np.pi / 2))
    cell = rng.uniform(6, 16)
    return ((np.floor(u / cell) + np.floor(v / cell)) % 2).astype(np.float64)


def _dots(rng: np.random.Generator, coords: Coords) -> np.ndarray:
    """Rotated lattice of round dots."""
    u, v = _rotated(coords, rng.uniform(0, np.pi / 2))
    period = rng.uniform(7, 14)
    radius = rng.uniform(0.2, 0.35) * period
    du = u - period * np.round(u / period)
    dv = v - period * np.round(v / period)
    return (du * du + dv * dv < radius * radius).astype(np.float64)


def _blotches(rng: np.random.Generator, coords: Coords) -> np.ndarray:
    """High-frequency smooth noise: irregular blotches."""
    yy, xx = coords
    height, width = yy.shape
    cells = max(2, int(max(height, width) / rng.uniform(6, 12)))
    return np.clip(0.5 + 0.8 * _smooth_noise(rng, height, width, cells), 0, 1)


def _gradient(rng: np.random.Generator, coords: Coords) -> np.ndarray:
    """Linear ramp in a random direction (plain, shaded surfaces)."""
    u, _ = _rotated(coords, rng.uniform(0, 2 * np.pi))
    return (u - u.min()) / max(np.ptp(u), 1.0) * 0.5


TextureFn = Callable[[np.random.Generator, Coords], np.ndarray]
# Stuff class -> texture family; the stuff class is given by its texture.
STUFF_TEXTURES: Tuple[TextureFn, ...] = (_stripes, _checker, _dots, _blotches)
# Thing textures are drawn independently of the thing class.
THING_TEXTURES = (_gradient, _stripes, _checker, _dots, _blotches)
THING_TEXTURE_PROBS = (0.5, 0.125, 0.125, 0.125, 0.125)


def _random_colours(rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Two random RGB colours that differ clearly in every channel."""
    first = rng.uniform(0, 1, 3)
    second = (first + rng.uniform(0.3, 0.7, 3)) % 1.0
    return first, second


def _paint(rng: np.random.Generator, texture: TextureFn,
           coords: Coords) -> np.ndarray:
    """An ``(H, W, 3)`` float image: a texture in two random colours."""
    weight = texture(rng, coords)[..., None]
    first, second = _random_colours(rng)
    return first * (1 - weight) + second * weight


def _shape_mask(label: int, local: Coords, params: Params) -> np.ndarray:
    """Boolean mask of thing class ``label`` in shape-local coordinates.

    ``local`` holds coordinates rotated by the instance angle and divided by
    its radius, so every shape fits roughly in the unit disc.
    """
    v, u = local
    rho = np.hypot(u, v)
    name = THING_CLASSES[label]
    if name == 'circle':
        return rho <= 1.0
    if name == 'square':
        return np.maximum(np.abs(u), np.abs(v)) <= 0.8
    if name == 'triangle':
        normals = np.pi / 2 + 2 * np.pi * np.arange(3) / 3
        proj = u[..., None] * np.cos(normals) + v[..., None] * np.sin(normals)
        return proj.max(-1) <= 0.55
    if name == 'star':
        outer, inner, half = 1.1, 0.5, np.pi / 5
        phi = np.mod(np.arctan2(v, u), 2 * half)
        phi = np.minimum(phi, 2 * half - phi)
        # Edge from the tip (outer, 0) to the notch (inner, half) in polar form.
        tip = np.array([outer, 0.0])
        notch = inner * np.array([np.cos(half), np.sin(half)])
        normal = np.array([notch[1] - tip[1], tip[0] - notch[0]])
        edge = (normal @ tip) / (
            normal[0] * np.cos(phi) + normal[1] * np.sin(phi))
        return rho <= edge
    if name == 'ring':
        return (rho <= 1.0) & (rho >= params['inner'])
    if name == 'cross':
        au, av = np.abs(u), np.abs(v)
        width = params['width']
        return ((au <= width) & (av <= 1.0)) | ((av <= width) & (au <= 1.0))
    raise ValueError(f'unknown thing class {name}')


def _thing_mask(label: int, centre: Tuple[float, float], radius: float,
                angle: float, params: Params, size: int) -> np.ndarray:
    """Full-image boolean mask of one shape, rasterised in its bounding box."""
    cy, cx = centre
    reach = 1.2 * radius
    y0, y1 = max(int(cy - reach), 0), min(int(np.ceil(cy + reach)) + 1, size)
    x0, x1 = max(int(cx - reach), 0), min(int(np.ceil(cx + reach)) + 1, size)
    mask = np.zeros((size, size), dtype=bool)
    if y0 >= y1 or x0 >= x1:
        return mask
    dy = (np.arange(y0, y1) + 0.5 - cy)[:, None]
    dx = (np.arange(x0, x1) + 0.5 - cx)[None, :]
    c, s = np.cos(angle), np.sin(angle)
    local = ((dy * c - dx * s) / radius, (dx * c + dy * s) / radius)
    mask[y0:y1, x0:x1] = _shape_mask(label, local, params)
    return mask


def _sample_things(rng: np.random.Generator, size: int) -> List[dict]:
    """Random thing instances in painting order (mostly large to small).

    Diameters are log-uniform in ``[0.05, 0.75] * size`` under a total area
    budget; about a third of the instances are placed touching (and slightly
    overlapping) a previous instance of the same class.
    """
    count = int(rng.integers(1, MAX_THINGS + 1))
    budget = 0.6 * size * size
    min_diam, max_diam = 0.05 * size, 0.75 * size
    things: List[dict] = []
    for _ in range(count):
        cap = float(np.clip(np.sqrt(budget / 0.7), min_diam, max_diam))
        if things and rng.uniform() < 0.35:
            ref = things[int(rng.integers(len(things)))]
            label = ref['label']
            diam = ref['radius'] * 2 * rng.uniform(0.7, 1.3)
            diam = float(np.clip(diam, min_diam, cap))
            direction = rng.uniform(0, 2 * np.pi)
            dist = (ref['radius'] + diam / 2) * rng.uniform(0.8, 0.95)
            centre = (ref['centre'][0] + dist * np.sin(direction),
                      ref['centre'][1] + dist * np.cos(direction))
        else:
            label = int(rng.integers(NUM_THING_CLASSES))
            diam = float(np.exp(rng.uniform(np.log(min_diam), np.log(cap))))
            margin = 0.25 * diam / 2
            centre = tuple(rng.uniform(margin, size - margin, 2))
        budget = max(budget - 0.7 * diam * diam, 0.0)
        things.append(
            dict(
                label=label,
                centre=centre,
                radius=diam / 2,
                angle=rng.uniform(0, 2 * np.pi),
                params=dict(
                    inner=rng.uniform(0.45, 0.65),
                    width=rng.uniform(0.25, 0.38)),
                order=diam * rng.uniform(0.6, 1.4)))
    return sorted(things, key=lambda thing: -thing['order'])


def _stuff_layout(rng: np.random.Generator, size: int,
                  num_regions: int) -> np.ndarray:
    """Region index per pixel: a power diagram on domain-warped coordinates.

    The warp gives wavy, irregular borders; regions smaller than 5% of the
    image are dropped (left empty) so every stuff segment is large.
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    amp = rng.uniform(0.08, 0.2) * size
    cells = int(rng.integers(2, 5))
    wy = yy + amp * _smooth_noise(rng, size, size, cells)
    wx = xx + amp * _smooth_noise(rng, size, size, cells)
    seeds = rng.uniform(0, size, (num_regions, 2))
    weights = rng.uniform(0, 0.1, num_regions) * size * size
    dist = ((wy[None] - seeds[:, 0, None, None])**2 +
            (wx[None] - seeds[:, 1, None, None])**2 - weights[:, None, None])
    while True:
        regions = dist.argmin(0)
        areas = np.bincount(regions.ravel(), minlength=num_regions)
        small = (areas > 0) & (areas < 0.05 * size * size)
        if not small.any():
            return regions
        dist[small] = np.inf


def _blur(image: np.ndarray) -> np.ndarray:
    """Separable [1, 2, 1] / 4 blur with edge padding (slight optics blur)."""
    padded = np.pad(image, ((1, 1), (1, 1), (0, 0)), mode='edge')
    rows = (padded[:-2] + 2 * padded[1:-1] + padded[2:]) / 4
    return (rows[:, :-2] + 2 * rows[:, 1:-1] + rows[:, 2:]) / 4


def _segment_info(segment_id: int, category_id: int, mask: np.ndarray) -> dict:
    """COCO panoptic ``segments_info`` entry with exact area and bbox."""
    ys = np.flatnonzero(mask.any(1))
    xs = np.flatnonzero(mask.any(0))
    x, y = int(xs[0]), int(ys[0])
    w, h = int(xs[-1]) - x + 1, int(ys[-1]) - y + 1
    return dict(
        id=segment_id,
        category_id=category_id,
        area=int(mask.sum()),
        bbox=[x, y, w, h],
        iscrowd=0)


def render_sample(rng: np.random.Generator, size: int, with_things: bool,
                  num_stuff: int, first_id: int) -> tuple:
    """Render one image; its segment ids count up from ``first_id``.

    Args:
        rng (np.random.Generator): Source of all randomness of the image.
        size (int): Side of the square image.
        with_things (bool): Whether to place things at all.
        num_stuff (int): Number of stuff regions (distinct stuff classes).
        first_id (int): Id of the first segment.

    Returns:
        tuple: ``uint8 (H, W, 3)`` image, ``int64 (H, W)`` segment id map
        (every pixel belongs to a segment) and its ``segments_info``.
    """
    coords = tuple(np.mgrid[0:size, 0:size].astype(np.float64))
    stuff_labels = rng.choice(NUM_STUFF_CLASSES, num_stuff, replace=False)
    regions = _stuff_layout(rng, size, num_stuff)
    masks: List[np.ndarray] = []
    labels: List[int] = []
    image = np.zeros((size, size, 3))
    for index, stuff in enumerate(stuff_labels):
        region = regions == index
        tex = _paint(rng, STUFF_TEXTURES[stuff], coords)
        image[region] = tex[region]
        masks.append(region)
        labels.append(NUM_THING_CLASSES + int(stuff))

    things = _sample_things(rng, size) if with_things else []
    # Visible part of a thing = its mask minus the kept things painted later;
    # walking top-down means dropped things never hide anything.
    covered = np.zeros((size, size), dtype=bool)
    kept: List[Tuple[np.ndarray, int]] = []
    for thing in reversed(things):
        full = _thing_mask(thing['label'], thing['centre'], thing['radius'],
                           thing['angle'], thing['params'], size)
        visible = full & ~covered
        if visible.sum() < max(MIN_VISIBLE_AREA,
                               MIN_VISIBLE_FRACTION * full.sum()):
            continue
        covered |= full
        kept.append((visible, thing['label']))
    for visible, label in reversed(kept):
        texture = THING_TEXTURES[rng.choice(
            len(THING_TEXTURES), p=THING_TEXTURE_PROBS)]
        image[visible] = _paint(rng, texture, coords)[visible]
        masks.append(visible)
        labels.append(label)
    for index in range(num_stuff):
        masks[index] &= ~covered

    shading = 1 + 0.12 * _smooth_noise(rng, size, size, 2)
    image = _blur(image * shading[..., None])
    image = image + rng.normal(0, 0.03, image.shape)
    image = np.clip(np.round(image * 255), 0, 255).astype(np.uint8)

    id_map = np.zeros((size, size), dtype=np.int64)
    segments: List[dict] = []
    for mask, label in zip(masks, labels):
        if not mask.any():
            continue
        segment_id = first_id + len(segments)
        id_map[mask] = segment_id
        segments.append(_segment_info(segment_id, label + 1, mask))
    return image, id_map, segments


def render_images(shape: Tuple[int, int], num: int, seed: int,
                  size: int = 256) -> List[np.ndarray]:
    """``num`` deterministic BGR images of ``shape`` (H, W): scenes rendered
    at ``size`` x ``size``, with things and three stuff regions, resized to
    the shape. The inputs of ``tools/analysis_tools/benchmark.py``."""
    images = []
    for index in range(num):
        rgb, _, _ = render_sample(np.random.default_rng([seed, index]), size,
                                  True, 3, 1)
        images.append(mmcv.imresize(rgb[..., ::-1], shape[::-1]))
    return images


def _save_png(array: np.ndarray, path: str) -> None:
    """Write a PNG with fixed settings so the bytes depend only on the data
    (zlib level 1: the noisy images barely compress at any level, 4 % larger
    files than at level 6 for 6 % less generation time)."""
    Image.fromarray(array).save(path, format='PNG', compress_level=1)


def _split_paths(out_dir: str, split: str) -> Tuple[str, str, str]:
    """Image folder, panoptic PNG folder and json file of a split."""
    return (osp.join(out_dir, split),
            osp.join(out_dir, 'annotations', f'panoptic_{split}'),
            osp.join(out_dir, 'annotations', f'panoptic_{split}.json'))


def _write_image(out_dir: str, split: str, size: int, seed: int,
                 index: int) -> Tuple[dict, dict]:
    """Render and save image ``index`` of a split; its ``images`` and
    ``annotations`` entries.

    Image ``i`` is drawn from ``default_rng([seed, split_index, i])``, so it
    depends only on the seed, the split and its index (not on which process
    renders it).
    """
    img_dir, pan_dir, _ = _split_paths(out_dir, split)
    rng = np.random.default_rng([seed, SPLITS.index(split), index])
    phase = index % 10
    num_stuff = 1 if phase == ONE_STUFF_PHASE else int(
        rng.integers(2, NUM_STUFF_CLASSES + 1))
    image_id = index + 1
    image, id_map, segments = render_sample(
        rng, size, phase != NO_THINGS_PHASE, num_stuff,
        image_id * SEGMENT_ID_STRIDE + 1)
    file_name = f'{image_id:06d}.png'
    _save_png(image, osp.join(img_dir, file_name))
    _save_png(id2rgb(id_map), osp.join(pan_dir, file_name))
    return (dict(id=image_id, file_name=file_name, height=size, width=size),
            dict(image_id=image_id, file_name=file_name,
                 segments_info=segments))


def generate_split(out_dir: str, split: str, num_images: int, size: int,
                   seed: int, workers: int = 1) -> dict:
    """Generate one split and return its COCO panoptic json dict.

    ``workers`` processes render images in parallel; the files are the same
    for any number of workers.
    """
    assert (num_images + 1) * SEGMENT_ID_STRIDE < 2**24, \
        'segment ids must fit in 24-bit RGB'
    img_dir, pan_dir, json_path = _split_paths(out_dir, split)
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(pan_dir, exist_ok=True)
    write = partial(_write_image, out_dir, split, size, seed)
    if workers > 1 and num_images > 1:
        with get_context('spawn').Pool(min(workers, num_images)) as pool:
            entries = pool.map(write, range(num_images), chunksize=8)
    else:
        entries = [write(index) for index in range(num_images)]
    data = dict(
        info=dict(description=f'mmpfcn synthetic panoptic ({split})'),
        licenses=[],
        images=[image for image, _ in entries],
        annotations=[annotation for _, annotation in entries],
        categories=SYNTHETIC_CATEGORIES)
    with open(json_path, 'w') as f:
        json.dump(data, f)
    return data


def _meta(num_train: int, num_val: int, size: int, seed: int) -> dict:
    """Parameters recorded in ``meta.json`` to detect a complete output."""
    return dict(
        format_version=FORMAT_VERSION,
        num_train=num_train,
        num_val=num_val,
        size=size,
        seed=seed)


def is_complete(out_dir: str, num_train: int, num_val: int, size: int,
                seed: int) -> bool:
    """Whether ``out_dir`` holds a finished dataset with these parameters."""
    meta_path = osp.join(out_dir, 'meta.json')
    if not osp.isfile(meta_path):
        return False
    with open(meta_path) as f:
        if json.load(f) != _meta(num_train, num_val, size, seed):
            return False
    for split in SPLITS:
        img_dir, pan_dir, json_path = _split_paths(out_dir, split)
        if not osp.isfile(json_path):
            return False
        with open(json_path) as f:
            names = [img['file_name'] for img in json.load(f)['images']]
        if not all(
                osp.isfile(osp.join(img_dir, name))
                and osp.isfile(osp.join(pan_dir, name)) for name in names):
            return False
    return True


def generate_synthetic_panoptic(out_dir: str,
                                num_train: int = DEFAULT_NUM_TRAIN,
                                num_val: int = DEFAULT_NUM_VAL,
                                size: int = 256,
                                seed: int = 0,
                                force: bool = False,
                                workers: int = 1) -> bool:
    """Write the synthetic COCO panoptic dataset to ``out_dir``.

    Same arguments give byte-identical files, whatever ``workers`` (processes
    rendering images in parallel). Generation is skipped when ``out_dir``
    already holds a complete dataset with the same parameters, unless
    ``force``.

    Returns:
        bool: Whether the dataset was (re)generated.
    """
    if not force and is_complete(out_dir, num_train, num_val, size, seed):
        return False
    meta_path = osp.join(out_dir, 'meta.json')
    if osp.exists(meta_path):
        os.remove(meta_path)
    for split, num in zip(SPLITS, (num_train, num_val)):
        generate_split(out_dir, split, num, size, seed, workers)
    with open(meta_path, 'w') as f:
        json.dump(_meta(num_train, num_val, size, seed), f)
    return True


__all__ = [
    'SYNTHETIC_CLASSES', 'SYNTHETIC_METAINFO', 'SYNTHETIC_PALETTE',
    'SYNTHETIC_CATEGORIES', 'THING_CLASSES', 'STUFF_CLASSES',
    'NUM_THING_CLASSES', 'NUM_STUFF_CLASSES', 'DEFAULT_NUM_TRAIN', 'DEFAULT_NUM_VAL',
    'generate_synthetic_panoptic',
    'generate_split', 'render_sample', 'render_images', 'is_complete'
]
