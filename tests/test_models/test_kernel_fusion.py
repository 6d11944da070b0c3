import json

import numpy as np
import pytest
import torch
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.registry import METRICS, MODELS
from mmdet.structures import DetDataSample
from mmengine.structures import PixelData
from PIL import Image


def build_fusion(**kwargs):
    cfg = dict(type='KernelFusion', num_things_classes=2, num_stuff_classes=2, stuff_area_limit=10)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_near_identical_same_class_kernels_fuse_into_one():
    fusion = build_fusion()
    a = torch.tensor([1.0, 0.0, 0.0, 0.0])
    b = torch.tensor([0.0, 1.0, 0.0, 0.0])
    kernels = torch.stack([a, a * 2 + 0.01, b, a + 0.02])[None]
    scores = torch.tensor([[0.9, 0.8, 0.7, 0.6]])
    valid = torch.ones(1, 4, dtype=torch.bool)

    same = fusion.fuse_thing_kernels(kernels, torch.tensor([[0, 0, 0, 0]]), scores, valid)
    assert same['valid'].tolist() == [[True, True, False, False]]
    assert torch.allclose(same['kernels'][0, 0], (kernels[0, 0] + kernels[0, 1] + kernels[0, 3]) / 3)
    assert torch.equal(same['kernels'][0, 1], b)
    assert same['scores'][0, :2].tolist() == pytest.approx([0.9, 0.7])

    mixed = fusion.fuse_thing_kernels(kernels, torch.tensor([[0, 1, 0, 1]]), scores, valid)
    assert mixed['valid'].tolist() == [[True, True, True, False]]
    assert mixed['labels'][0, :3].tolist() == [0, 1, 0]
    assert torch.equal(mixed['kernels'][0, 0], a)
    assert torch.allclose(mixed['kernels'][0, 1], (kernels[0, 1] + kernels[0, 3]) / 2)


def test_fusion_drops_a_kernel_whose_first_match_was_itself_fused():
    # 0 ~ 1 and 1 ~ 2 but 0 !~ 2: 1 is fused into 0; 2's first match is 1, which is gone, so 2 is
    # dropped entirely (the authors' rule), not kept on its own.
    fusion = build_fusion(similarity_thr=0.9)
    angles = torch.tensor([0.0, 0.4, 0.8])
    kernels = torch.stack([angles.cos(), angles.sin()], 1)[None]
    out = fusion.fuse_thing_kernels(kernels, torch.zeros(1, 3, dtype=torch.long),
                                    torch.tensor([[0.9, 0.8, 0.7]]), torch.ones(1, 3, dtype=torch.bool))
    assert out['valid'].tolist() == [[True, False, False]]
    assert torch.allclose(out['kernels'][0, 0], kernels[0, :2].mean(0))


def test_thresholds_outside_unit_interval_are_rejected():
    with pytest.raises(ValueError, match=r'mask_thr must be in \[0, 1\], got 1.5'):
        build_fusion(mask_thr=1.5)


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
    return build_fusion().combine(masks, torch.tensor([0, 1, 1]), torch.tensor([0.9, 0.8, 0.7]), region)


def test_combine_encoding_is_scored_by_coco_panoptic_metric(tmp_path):
    from panopticapi.utils import id2rgb
    h, w = H, W
    result = combined_result()
    pan = result['pan_results'].sem_seg[0]
    assert set(pan.unique().tolist()) == {2, 3, 0 + INSTANCE_OFFSET, 1 + 2 * INSTANCE_OFFSET}
    assert torch.equal(result['sem_results'].sem_seg[0], pan % INSTANCE_OFFSET)
    assert result['ins_results'].bboxes[0].tolist() == [2, 2, 10, 10]

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


def stuff_only_predict(fusion):
    """One level, no thing: the region map says stuff channel 1 on the left
    half and 2 on the right, but both stuff kernels (averages of a uniform
    kernel feature) and so their masks are identical."""
    region_logits = torch.full((1, 3, 4, 4), -4.0)
    region_logits[0, 1, :, :2] = 4.0
    region_logits[0, 2, :, 2:] = 4.0
    uniform = torch.tensor([1.0, 0.0])[None, :, None, None]
    result = fusion.predict(
        [torch.full((1, 2, 4, 4), -10.0)], [region_logits], [uniform.expand(1, 2, 4, 4)],
        uniform.expand(1, 2, 8, 8), lambda k: k, lambda k: k,
        [dict(img_shape=(32, 32), ori_shape=(32, 32))])[0]
    return result['pan_results'].sem_seg[0]


def test_region_prior_lets_the_region_maps_decide_between_equal_stuff_masks():
    # Masks alone: a tie everywhere, which goes to the first stuff class (label 2).
    assert (stuff_only_predict(build_fusion(center_pool_sizes=(3, ))) == 2).all()
    # With the finest region map's probabilities as a prior, each half takes its own class.
    pan = stuff_only_predict(build_fusion(center_pool_sizes=(3, ), region_prior_levels=1))
    assert (pan[:, :14] == 2).all() and (pan[:, 18:] == 3).all()


def test_region_prior_levels_are_checked():
    with pytest.raises(ValueError, match='region_prior_levels must be >= 0, got -1'):
        build_fusion(region_prior_levels=-1)
    with pytest.raises(ValueError, match='region_prior_levels is 2, but the head gives 1 region map'):
        stuff_only_predict(build_fusion(center_pool_sizes=(3, ), region_prior_levels=2))
