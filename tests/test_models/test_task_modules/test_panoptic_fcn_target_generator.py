import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import TASK_UTILS
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks
from mmengine.structures import InstanceData

SIZE = 320
LEVELS = [(SIZE // s, SIZE // s) for s in (8, 16, 32, 64, 128)]
ENCODE = (SIZE // 4, SIZE // 4)


@pytest.fixture
def generator():
    return TASK_UTILS.build(
        dict(type='PanopticFCNTargetGenerator', num_things_classes=3, num_stuff_classes=2))


def make_instances(masks, labels):
    masks = np.asarray(masks, dtype=np.uint8).reshape(-1, SIZE, SIZE)
    boxes = []
    for m in masks:
        ys, xs = np.nonzero(m)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    return InstanceData(
        masks=BitmapMasks(masks, SIZE, SIZE),
        bboxes=HorizontalBoxes(torch.tensor(boxes, dtype=torch.float).reshape(-1, 4)),
        labels=torch.tensor(labels, dtype=torch.long))


def rect(y0, y1, x0, x1):
    m = np.zeros((SIZE, SIZE), np.uint8)
    m[y0:y1, x0:x1] = 1
    return m


def triangle(y0, x0, side):
    m = np.zeros((SIZE, SIZE), np.uint8)
    for i in range(side):
        m[y0 + i, x0:x0 + i + 1] = 1
    return m


def run(generator, instances, sem):
    return generator(instances, torch.as_tensor(np.stack(sem)).long(), (SIZE, SIZE), LEVELS, ENCODE)


def test_levels_assigned_by_sqrt_box_area(generator):
    inst = make_instances([rect(0, 40, 0, 40), rect(100, 200, 100, 200), rect(0, 300, 0, 300)], [0, 1, 2])
    out = run(generator, [inst], [np.full((SIZE, SIZE), 3)])
    pairs = sorted(zip(out['assign_inst'].tolist(), out['assign_level'].tolist()))
    # sqrt areas 40, 100, 300 against (1,64) (32,128) (64,256) (128,512) (256,2048).
    assert pairs == [(0, 0), (0, 1), (1, 1), (1, 2), (2, 3), (2, 4)]
    assert out['assign_label'].tolist() == [0, 0, 1, 1, 2, 2]


def test_gaussian_peak_is_exactly_at_the_mass_centre(generator):
    mask = triangle(60, 90, 50)  # sqrt area 50: levels 0 and 1; mass centre differs from box centre
    out = run(generator, [make_instances([mask], [2])], [np.full((SIZE, SIZE), 3)])
    # Independent reference: bilinear down-sampling, then the mean of the non-zero positions.
    soft = F.interpolate(torch.tensor(mask, dtype=torch.float)[None, None], size=ENCODE,
                         mode='bilinear', align_corners=False)[0, 0]
    assert torch.equal(out['inst_masks'][0], soft)
    ys, xs = torch.nonzero(soft > 0, as_tuple=True)
    cy, cx = ys.float().mean(), xs.float().mean()
    for level in (0, 1):
        h, w = LEVELS[level]
        py, px = int(cy * h / ENCODE[0]), int(cx * w / ENCODE[1])
        heat = out['center_heatmaps'][level][0, 2]
        assert heat[py, px] == 1.0
        assert torch.nonzero(heat == heat.max()).tolist() == [[py, px]]
        assert out['center_heatmaps'][level][0, :2].abs().sum() == 0
    assert out['center_heatmaps'][2].abs().sum() == 0


def test_stuff_targets_match_interpolated_one_hot(generator):
    sem = np.full((SIZE, SIZE), 4)  # second stuff class -> region channel 2
    sem[:, :150] = 3  # first stuff class -> channel 1
    sem[100:140, 20:60] = 1  # a thing -> channel 0
    sem[200:, 200:] = 255  # ignore -> no channel
    out = run(generator, [make_instances(np.zeros((0, SIZE, SIZE)), [])], [sem])
    channel = torch.tensor(sem)
    channel = torch.where(channel < 3, torch.zeros_like(channel), channel - 2)
    channel[channel == 253] = 3
    onehot = F.one_hot(channel, 4).permute(2, 0, 1)[:3].float()[None]
    ref4 = F.interpolate(onehot, size=ENCODE, mode='bilinear', align_corners=False)
    assert torch.allclose(out['sem_masks'], ref4, atol=1e-6)
    for level, size in enumerate(LEVELS):
        ref = F.interpolate(ref4, size=size, mode='bilinear', align_corners=False).clamp(max=1)
        ref = ref * (ref >= 0.5)
        assert torch.allclose(out['region_targets'][level], ref, atol=1e-6)
    lvl0 = out['region_targets'][0][0]
    assert lvl0[2, 35, 35] == 0 and lvl0[1, 35, 35] == 0  # ignore corner is all-zero
    assert lvl0[1, 5, 5] == 1 and lvl0[2, 5, 30] == 1


def test_images_without_things_without_stuff_and_only_ignore(generator):
    no_things = make_instances(np.zeros((0, SIZE, SIZE)), [])
    thing = make_instances([rect(0, 320, 0, 160)], [1])
    only_things = np.full((SIZE, SIZE), 255)
    only_things[:, :160] = 1
    only_ignore = np.full((SIZE, SIZE), 255)
    out = run(generator, [no_things, thing, no_things], [np.full((SIZE, SIZE), 3), only_things, only_ignore])
    assert out['assign_img'].tolist() == [1, 1]
    for heat in out['center_heatmaps']:
        assert heat[[0, 2]].abs().sum() == 0
    regions = out['region_targets'][0]
    assert regions[0, 1].min() == 1 and regions[0, [0, 2]].abs().sum() == 0
    assert regions[1, 1:].abs().sum() == 0 and regions[1, 0].sum() > 0
    assert regions[2].abs().sum() == 0 and out['sem_masks'][2].abs().sum() == 0
