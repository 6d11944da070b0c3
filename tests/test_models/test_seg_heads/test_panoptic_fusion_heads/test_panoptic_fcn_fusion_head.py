"""PanopticFCNFusionHead: masks, re-scoring, and panoptic / instance / semantic results."""
import json

import numpy as np
import pytest
import torch
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.registry import METRICS, MODELS
from mmdet.structures import DetDataSample
from mmengine.structures import PixelData
from PIL import Image

from mmpfcn.models.utils import masks_to_boxes


def build_head(num_things_classes=2, num_stuff_classes=2, **test_cfg):
    test_cfg.setdefault('stuff_area_limit', 10)
    return MODELS.build(dict(type='PanopticFCNFusionHead', num_things_classes=num_things_classes,
                             num_stuff_classes=num_stuff_classes, test_cfg=test_cfg))


def combine(head, masks, labels, scores, region):
    """The three results of one image from its instances and region argmax (every stuff region
    scored 0.5)."""
    boxes = masks_to_boxes(masks)
    stuff_scores = torch.full((head.num_stuff_classes + 1, ), 0.5)
    pan, segments = head.panoptic_postprocess(masks, boxes, labels, scores, region, stuff_scores)
    return dict(pan_results=PixelData(sem_seg=pan[None], metainfo=dict(segments_info=segments)),
                sem_results=PixelData(sem_seg=head.semantic_postprocess(pan)[None]),
                ins_results=head.instance_postprocess(masks, boxes, labels, scores))


H, W = 24, 32


def combined_result():
    """Two things, a third one covered by the first, and two stuff regions."""
    region = torch.zeros(H, W, dtype=torch.long)
    region[:, :16] = 1  # stuff channel 1 -> MMDet label 2
    region[:, 16:] = 2  # stuff channel 2 -> label 3
    masks = torch.zeros(3, H, W, dtype=torch.bool)
    masks[0, 2:10, 2:10] = True  # thing label 0
    masks[1, 12:20, 20:30] = True  # thing label 1
    masks[2, 2:10, 3:10] = True  # overlaps the first by 100%: dropped
    return combine(build_head(), masks, torch.tensor([0, 1, 1]), torch.tensor([0.9, 0.8, 0.7]),
                   region)


def test_panoptic_encoding_is_scored_by_coco_panoptic_metric(tmp_path):
    from panopticapi.utils import id2rgb
    h, w = H, W
    result = combined_result()
    pan = result['pan_results'].sem_seg[0]
    assert set(pan.unique().tolist()) == {2, 3, 0 + INSTANCE_OFFSET, 1 + 2 * INSTANCE_OFFSET}
    assert torch.equal(result['sem_results'].sem_seg[0], pan % INSTANCE_OFFSET)
    assert result['ins_results'].bboxes[0].tolist() == [2, 2, 10, 10]
    # Every segment of the map is described once; the third instance was not placed.
    segments = result['pan_results'].segments_info
    assert sorted(s['id'] for s in segments) == sorted(pan.unique().tolist())
    assert [(s['label'], s['isthing'], s.get('instance')) for s in segments] == [
        (0, True, 0), (1, True, 1), (2, False, None), (3, False, None)]
    assert [s['score'] for s in segments] == pytest.approx([0.9, 0.8, 0.5, 0.5])

    # Ground truth with the same segments, in COCO panoptic format.
    seg_ids = np.zeros((h, w), np.int64)
    seg_ids[:, :16], seg_ids[:, 16:] = 3, 4
    seg_ids[2:10, 2:10], seg_ids[12:20, 20:30] = 1, 2
    (tmp_path / 'pan').mkdir()
    Image.fromarray(id2rgb(seg_ids)).save(tmp_path / 'pan' / 'img.png')
    categories = [dict(id=i + 1, name=n, isthing=int(i < 2), supercategory='x')
                  for i, n in enumerate(['a', 'b', 'c', 'd'])]
    segments = [dict(id=s, category_id=c, iscrowd=0, area=int((seg_ids == s).sum()), bbox=[0, 0, 1, 1])
                for s, c in ((1, 1), (2, 2), (3, 3), (4, 4))]
    ann = dict(images=[dict(id=0, file_name='img.jpg', height=h, width=w)], categories=categories,
               annotations=[dict(image_id=0, file_name='img.png', segments_info=segments)])
    (tmp_path / 'ann.json').write_text(json.dumps(ann))

    metric = METRICS.build(
        dict(type='CocoPanopticMetric', ann_file=str(tmp_path / 'ann.json'), seg_prefix=str(tmp_path / 'pan')))
    metric.dataset_meta = dict(classes=['a', 'b', 'c', 'd'], thing_classes=['a', 'b'], stuff_classes=['c', 'd'])
    sample = DetDataSample(metainfo=dict(img_id=0, img_path='img.jpg', ori_shape=(h, w)))
    sample.pred_panoptic_seg = result['pan_results']
    metric.process({}, [sample.to_dict()])
    scores = metric.evaluate(size=1)
    assert scores['coco_panoptic/PQ'] == pytest.approx(100.0)
    assert scores['coco_panoptic/PQ_th'] == pytest.approx(100.0)
    assert scores['coco_panoptic/PQ_st'] == pytest.approx(100.0)


def test_semantic_and_instance_outputs_are_scored_by_mmdet_metrics(tmp_path):
    from pycocotools import mask as mask_utils
    result = combined_result()
    sample = DetDataSample(metainfo=dict(img_id=0, img_path='img.jpg', ori_shape=(H, W)))
    sample.pred_sem_seg = result['sem_results']
    sample.pred_instances = result['ins_results']
    gt_sem = torch.full((1, H, W), 2, dtype=torch.long)
    gt_sem[:, :, 16:] = 3
    gt_sem[:, 2:10, 2:10] = 0
    gt_sem[:, 12:20, 20:30] = 1
    sample.gt_sem_seg = PixelData(sem_seg=gt_sem)
    semseg = METRICS.build(dict(type='SemSegMetric'))
    semseg.dataset_meta = dict(classes=['a', 'b', 'c', 'd'])
    semseg.process({}, [sample.to_dict()])
    assert semseg.evaluate(size=1)['mIoU'] == pytest.approx(100.0)

    anns = []
    for i, (label, (y0, y1, x0, x1)) in enumerate([(1, (2, 10, 2, 10)), (2, (12, 20, 20, 30))]):
        m = np.zeros((H, W), np.uint8, order='F')
        m[y0:y1, x0:x1] = 1
        rle = mask_utils.encode(m)
        rle['counts'] = rle['counts'].decode()
        anns.append(dict(id=i + 1, image_id=0, category_id=label, segmentation=rle, area=int(m.sum()),
                         bbox=[x0, y0, x1 - x0, y1 - y0], iscrowd=0))
    coco = dict(images=[dict(id=0, file_name='img.jpg', height=H, width=W)], annotations=anns,
                categories=[dict(id=1, name='a'), dict(id=2, name='b')])
    (tmp_path / 'instances.json').write_text(json.dumps(coco))
    segm = METRICS.build(dict(type='CocoMetric', ann_file=str(tmp_path / 'instances.json'), metric='segm'))
    segm.dataset_meta = dict(classes=['a', 'b'])
    segm.process({}, [sample.to_dict()])
    assert segm.evaluate(size=1)['coco/segm_mAP'] == pytest.approx(1.0)


def stuff_only_predict(head, results=('pan_results', )):
    """One level, no thing: the region map says stuff channel 1 on the left half and 2 on the
    right, but both stuff kernels and so their masks are identical."""
    region_logits = torch.full((1, 3, 4, 4), -4.0)
    region_logits[0, 1, :, :2] = 4.0
    region_logits[0, 2, :, 2:] = 4.0
    things = dict(kernels=torch.zeros(1, 0, 2), labels=torch.zeros(1, 0, dtype=torch.long),
                  scores=torch.zeros(1, 0), valid=torch.zeros(1, 0, dtype=torch.bool))
    stuff = dict(kernels=torch.tensor([[1.0, 0.0]]).expand(1, 3, 2), scores=torch.full((1, 3), 0.9),
                 valid=torch.tensor([[False, True, True]]))
    encode = torch.tensor([1.0, 0.0])[None, :, None, None].expand(1, 2, 8, 8)
    sample = DetDataSample(metainfo=dict(img_shape=(32, 32), ori_shape=(32, 32)))
    result = head.predict(things, stuff, encode, [region_logits], [sample])[0]
    assert sorted(result) == sorted(results)
    return result


def test_region_prior_lets_the_region_maps_decide_between_equal_stuff_masks():
    # Masks alone: a tie everywhere, which goes to the first stuff class (label 2).
    pan = stuff_only_predict(build_head(panoptic_on=True, instance_on=False, semantic_on=False))
    assert (pan['pan_results'].sem_seg == 2).all()
    # With the finest region map's probabilities as a prior, each half takes its own class.
    pan = stuff_only_predict(
        build_head(region_prior_levels=1, instance_on=False, semantic_on=False))['pan_results']
    assert (pan.sem_seg[0, :, :14] == 2).all() and (pan.sem_seg[0, :, 18:] == 3).all()


def test_results_follow_the_on_flags():
    everything = ('pan_results', 'ins_results', 'sem_results')
    result = stuff_only_predict(build_head(), everything)
    assert len(result['ins_results']) == 0
    assert torch.equal(result['sem_results'].sem_seg, result['pan_results'].sem_seg)
    stuff_only_predict(build_head(panoptic_on=False, instance_on=False), ('sem_results', ))


def test_region_prior_levels_are_checked():
    with pytest.raises(ValueError, match='region_prior_levels must be >= 0, got -1'):
        build_head(region_prior_levels=-1)
    with pytest.raises(ValueError, match='region_prior_levels is 2, but the head gives 1 region map'):
        stuff_only_predict(build_head(region_prior_levels=2))


@pytest.mark.parametrize('key', ['mask_thr', 'instance_score_thr', 'panoptic_instance_score_thr',
                                 'overlap_thr'])
def test_thresholds_outside_unit_interval_are_rejected(key):
    with pytest.raises(ValueError, match=rf'{key} must be in \[0, 1\], got 1.5'):
        build_head(**{key: 1.5})


def test_instances_are_rescored_by_their_masks():
    head = build_head(max_per_img=2, mask_thr=0.5)
    encode = torch.zeros(1, 2, 2, 2)
    encode[0, 0] = torch.tensor([[4.0, 4.0], [-4.0, -4.0]])  # sigmoid 0.982 on the top row
    encode[0, 1] = torch.tensor([[4.0, -4.0], [-4.0, -4.0]])  # 0.982 on one pixel
    things = dict(kernels=torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]]),
                  labels=torch.tensor([[0, 1, 1]]), scores=torch.tensor([[0.5, 0.9, 0.8]]),
                  valid=torch.tensor([[True, True, False]]))
    stuff = dict(kernels=torch.zeros(1, 3, 2))
    probs = head.mask_probabilities(things, stuff, encode)
    inside = torch.tensor(4.0).sigmoid()
    torch.testing.assert_close(probs['scores'][0], torch.stack([0.9 * inside, 0.5 * inside]),
                               rtol=1e-5, atol=0)
    assert probs['order'][0].tolist() == [1, 0] and probs['labels'][0].tolist() == [1, 0]
    assert probs['num_instances'].tolist() == [2]


def reference_panoptic(head, masks, labels, scores, region):
    """The placement rule of ``panoptic_postprocess`` on numpy pixel sets."""
    masks, region = masks.numpy(), region.numpy()
    pan = np.full(region.shape, head.num_classes, np.int64)
    covered = np.zeros(region.shape, bool)
    segment = 0
    for mask, label, score in zip(masks, labels.tolist(), scores.tolist()):
        if score < head.test_cfg.panoptic_instance_score_thr:
            break
        area = mask.sum()
        if area == 0 or (mask & covered).sum() / area > head.test_cfg.overlap_thr:
            continue
        segment += 1
        pan[mask & ~covered] = label + segment * INSTANCE_OFFSET
        covered |= mask
    free = np.where(covered, 0, region)
    for channel in range(1, head.num_stuff_classes + 1):
        pixels = free == channel
        if pixels.sum() >= head.test_cfg.stuff_area_limit:
            pan[pixels] = channel + head.num_things_classes - 1
    sem = pan % INSTANCE_OFFSET
    sem[sem == head.num_classes] = head.semantic_void
    return torch.from_numpy(pan), torch.from_numpy(sem)


@pytest.mark.parametrize('seed', range(4))
def test_panoptic_postprocess_equals_pixel_set_placement(seed):
    head = build_head(num_things_classes=3, num_stuff_classes=4, stuff_area_limit=30,
                      panoptic_instance_score_thr=0.3, overlap_thr=0.5)
    gen = torch.Generator().manual_seed(seed)
    height, width = 48, 64
    masks = torch.zeros(12, height, width, dtype=torch.bool)
    for mask in masks[1:]:  # the first stays empty
        y0 = int(torch.randint(0, height - 4, (1, ), generator=gen))
        x0 = int(torch.randint(0, width - 4, (1, ), generator=gen))
        h, w = torch.randint(3, 30, (2, ), generator=gen).tolist()
        patch = mask[y0:y0 + h, x0:x0 + w]
        patch[:] = torch.rand(patch.shape, generator=gen) > 0.2
    masks[5] = masks[3]  # fully covered by an earlier one
    scores = torch.sort(torch.rand(12, generator=gen), descending=True).values
    scores[9] = 0.1  # placement stops here
    labels = torch.randint(0, 3, (12, ), generator=gen)
    region = torch.randint(0, 5, (height // 8, width // 8), generator=gen)
    region = region.repeat_interleave(8, 0).repeat_interleave(8, 1)
    result = combine(head, masks, labels, scores, region)
    pan, sem = reference_panoptic(head, masks, labels, scores, region)
    assert torch.equal(result['pan_results'].sem_seg[0], pan)
    assert torch.equal(result['sem_results'].sem_seg[0], sem)
    assert torch.equal(result['ins_results'].bboxes, masks_to_boxes(masks))  # tested in test_mask_resize
    assert torch.equal(result['ins_results'].masks, masks)


def test_kernels_with_prior_centres_get_the_position_prior():
    head = build_head(max_per_img=2, mask_thr=0.3)
    encode = torch.zeros(1, 2, 4, 4)
    # A zero kernel: its probabilities are the sigmoid of the prior alone, 0.5 at its centre
    # (pixel row 1, col 2 of the 4 x 4 map) and falling with the distance.
    things = dict(kernels=torch.zeros(1, 1, 2), labels=torch.tensor([[0]]),
                  scores=torch.tensor([[0.9]]), valid=torch.tensor([[True]]),
                  prior_centers=torch.tensor([[[2.5 / 4, 1.5 / 4, 0.25]]]))
    probs = head.mask_probabilities(things, dict(kernels=torch.zeros(1, 3, 2)), encode)
    ys, xs = torch.meshgrid(torch.arange(4.0), torch.arange(4.0), indexing='ij')
    expected = (-((ys - 1) ** 2 + (xs - 2) ** 2) / 2).sigmoid()
    torch.testing.assert_close(probs['thing_probs'][0, 0].reshape(4, 4), expected)
