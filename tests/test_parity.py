"""Parity with the authors' implementation on the reference fixture (see tests/data/panopticfcn_reference).

Everything fixture-specific is read from ``fixture.json``; ``MMPFCN_PARITY_FIXTURE`` points the
test at another fixture directory of the same format. ``MMPFCN_TEST_DEVICE=cuda`` runs the model
on the GPU (``tools/gpu_check.sh``), in float32 (TF32 off), against the same reference.
"""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from torch.utils._pytree import tree_map

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
FIXTURE = os.environ.get('MMPFCN_PARITY_FIXTURE', osp.join(ROOT, 'tests', 'data', 'panopticfcn_reference'))
CONFIG = osp.join(ROOT, 'configs', 'panoptic_fcn', 'panoptic-fcn_r50_fpn_8xb2-ms-1x_coco.py')
DEVICE = os.environ.get('MMPFCN_TEST_DEVICE', 'cpu')
LEVELS = ('p3', 'p4', 'p5', 'p6', 'p7')
REL_TOL = 1e-4


def assert_close(name, actual, expected):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f'{name}: shape {actual.shape} vs {expected.shape}'
    err = np.abs(actual - expected).max() if actual.size else 0.0
    scale = np.abs(expected).max() if expected.size else 1.0
    assert err <= REL_TOL * scale, f'{name}: max abs diff {err:.3g} > {REL_TOL} x {scale:.3g}'
    print(f'parity {name}: max |diff| / max |ref| = {err / scale if scale else 0.0:.2e}')


def iou(a, b):
    union = np.logical_or(a, b).sum()
    return np.logical_and(a, b).sum() / union if union else 1.0


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """Generate the reference weights, convert them, and run the model with recorders attached."""
    meta = json.load(open(osp.join(FIXTURE, 'fixture.json')))
    tmp = tmp_path_factory.mktemp('parity')
    d2_ckpt, mm_ckpt = str(tmp / 'd2.pth'), str(tmp / 'mmdet.pth')
    gen = meta['generate'].split()[1:]
    gen[gen.index('--out') + 1] = d2_ckpt
    subprocess.run([sys.executable, *gen], cwd=FIXTURE, check=True, capture_output=True)
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'model_converters', 'panopticfcn_d2_to_mmdet.py'),
                    d2_ckpt, mm_ckpt, '--variant', 'plain'], check=True, capture_output=True)

    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.init_cfg = None
    cfg.model.kernel_generator.position_head.conv_cfg = None
    preprocessor = cfg.model.data_preprocessor
    assert meta['channel_order'] == 'BGR' and not preprocessor.bgr_to_rgb
    assert preprocessor.mean == meta['pixel_mean_bgr_order'] and preprocessor.std == meta['pixel_std']
    assert preprocessor.pad_size_divisor == meta['size_divisor']
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model).eval()
    load_checkpoint(model, mm_ckpt, map_location='cpu', strict=True)
    model.to(DEVICE)

    rec = {}
    model.neck.register_forward_hook(lambda m, i, o: rec.__setitem__('fpn', o))
    model.feature_encoder.encode_convs[0].register_forward_pre_hook(
        lambda m, i: rec.__setitem__('semantic_fpn', i[0][:, :-2]))
    model.feature_encoder.register_forward_hook(lambda m, i, o: rec.__setitem__('encode', o))
    model.kernel_generator.register_forward_hook(lambda m, i, o: rec.__setitem__('head', o))
    model.data_preprocessor.register_forward_hook(lambda m, i, o: rec.__setitem__('inputs', o['inputs']))
    fusion = model.kernel_generator.kernel_fusion
    for name in ('thing_candidates', 'stuff_candidates', 'fuse_thing_kernels', 'fuse_stuff_kernels'):
        def wrapped(*args, _f=getattr(fusion, name), _n=name):
            out = _f(*args)
            rec[_n] = (args, {k: v.clone() if torch.is_tensor(v) else v for k, v in out.items()})
            return out
        setattr(fusion, name, wrapped)

    def record_panoptic(*args, _f=model.panoptic_fusion_head.panoptic_postprocess):
        rec['panoptic_postprocess'] = args
        return _f(*args)

    model.panoptic_fusion_head.panoptic_postprocess = record_panoptic

    inputs = np.load(osp.join(FIXTURE, 'inputs.npz'))
    image = inputs['image_bgr']
    h, w = meta['image_height'], meta['image_width']
    assert image.shape[:2] == (h, w)
    sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), scale_factor=(1.0, 1.0)))
    data = dict(inputs=[torch.from_numpy(image).permute(2, 0, 1).contiguous()], data_samples=[sample])
    torch.set_num_threads(2)
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        with torch.no_grad():
            result = model.test_step(data)[0].cpu()
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
    rec = tree_map(lambda x: x.cpu() if torch.is_tensor(x) else x, rec)
    ref = dict(np.load(osp.join(FIXTURE, 'outputs.npz')))
    segments = json.load(open(osp.join(FIXTURE, 'segments_info.json')))
    return dict(rec=rec, result=result, ref=ref, inputs=inputs, segments=segments, model=model)


def test_dense_outputs_match(run):
    rec, ref = run['rec'], run['ref']
    assert_close('normalized_padded', rec['inputs'], run['inputs']['normalized_padded'])
    for i, level in enumerate(('p2', *LEVELS)):
        assert_close(f'fpn {level}', rec['fpn'][i].mean((2, 3))[0], ref[f'debug_fpn_chanmean_{level}'])
    assert_close('semantic fpn', rec['semantic_fpn'].mean((2, 3))[0], ref['debug_semantic_fpn_chanmean'])
    assert_close('encode_feat', rec['encode'], ref['encode_feat'])
    centers, regions, kernels = rec['head']
    for i, level in enumerate(LEVELS):
        assert_close(f'center_logits_{level}', centers[i], ref[f'center_logits_{level}'])
        assert_close(f'region_logits_{level}', regions[i], ref[f'region_logits_{level}'])
        assert_close(f'kernel_feat_{level}', kernels[i], ref[f'kernel_feat_{level}'])


def test_candidates_match(run):
    rec, ref = run['rec'], run['ref']
    things = rec['thing_candidates'][1]
    valid = things['valid'][0]
    for i, level in enumerate(LEVELS):
        sel = valid & (things['levels'][0] == i)
        np.testing.assert_array_equal(things['positions'][0][sel].numpy(), ref[f'thing_cand_index_{level}'])
        np.testing.assert_array_equal(things['labels'][0][sel].numpy(), ref[f'thing_cand_class_{level}'])
        assert_close(f'thing_cand_score_{level}', things['scores'][0][sel], ref[f'thing_cand_score_{level}'])
    assert int(valid.sum()) == len(ref['thing_kernels_pre_embed'])
    assert_close('thing_kernels_pre_embed', things['kernels'][0][valid], ref['thing_kernels_pre_embed'])

    stuff = rec['stuff_candidates'][1]
    for i, level in enumerate(LEVELS):
        classes = torch.nonzero(stuff['valid'][0, i], as_tuple=True)[0]
        np.testing.assert_array_equal(classes.numpy(), ref[f'stuff_cand_class_{level}'])
        assert_close(f'stuff_cand_score_{level}', stuff['scores'][0, i][classes], ref[f'stuff_cand_score_{level}'])
    assert_close('stuff_kernels_pre_embed', stuff['kernels'][0][stuff['valid'][0]], ref['stuff_kernels_pre_embed'])


def test_embedded_and_fused_kernels_match(run):
    rec, ref = run['rec'], run['ref']
    # The paper's model has no position prior: no prior centres go into the fusion.
    (kernels, labels, scores, valid, prior_centers), fused = rec['fuse_thing_kernels']
    assert prior_centers is None and 'prior_centers' not in fused
    v = valid[0]
    assert_close('thing_kernels_embed', kernels[0][v], ref['thing_kernels_embed'])
    np.testing.assert_array_equal(labels[0][v].numpy(), ref['thing_kernels_embed_class'])
    assert_close('thing_kernels_embed_score', scores[0][v], ref['thing_kernels_embed_score'])
    fv = fused['valid'][0]
    assert int(fv.sum()) == len(ref['thing_kernels_fused'])
    assert_close('thing_kernels_fused', fused['kernels'][0][fv], ref['thing_kernels_fused'])
    np.testing.assert_array_equal(fused['labels'][0][fv].numpy(), ref['thing_kernels_fused_class'])
    assert_close('thing_kernels_fused_score', fused['scores'][0][fv], ref['thing_kernels_fused_score'])

    (st_kernels, st_scores, st_valid), st_fused = rec['fuse_stuff_kernels']
    sv = st_valid[0]
    assert_close('stuff_kernels_embed', st_kernels[0][sv], ref['stuff_kernels_embed'])
    np.testing.assert_array_equal(torch.nonzero(sv)[:, 1].numpy(), ref['stuff_kernels_embed_class'])
    assert_close('stuff_kernels_embed_score', st_scores[0][sv], ref['stuff_kernels_embed_score'])
    classes = torch.nonzero(st_fused['valid'][0], as_tuple=True)[0]
    np.testing.assert_array_equal(classes.numpy(), ref['stuff_kernels_fused_class'])
    assert_close('stuff_kernels_fused', st_fused['kernels'][0][classes], ref['stuff_kernels_fused'])
    assert_close('stuff_kernels_fused_score', st_fused['scores'][0][classes], ref['stuff_kernels_fused_score'])
    logits = st_fused['kernels'][0][classes] @ rec['encode'][0].flatten(1)
    assert_close('stuff_mask_logits', logits.reshape(ref['stuff_mask_logits'].shape), ref['stuff_mask_logits'])


def test_instances_and_semantic_match(run):
    ref, inst = run['ref'], run['result'].pred_instances
    assert len(inst) == len(ref['inst_scores'])
    assert_close('inst_scores', inst.scores, ref['inst_scores'])
    np.testing.assert_array_equal(inst.labels.numpy(), ref['inst_classes'])
    ious = [iou(a, b) for a, b in zip(inst.masks.numpy(), ref['inst_masks'])]
    assert min(ious) >= 0.99, f'lowest instance mask IoU {min(ious):.4f}'
    print(f'parity instance masks: lowest IoU {min(ious):.4f} over {len(ious)}')
    region = run['rec']['panoptic_postprocess'][4].numpy()
    sure = ref['sem_seg_top2_margin'] >= 1e-4
    np.testing.assert_array_equal(region[sure], ref['sem_seg_argmax'][sure])


def test_panoptic_segments_match(run):
    ref, segments = run['ref'], run['segments']
    num_things = run['model'].panoptic_fusion_head.num_things_classes
    pan = run['result'].pred_panoptic_seg.sem_seg[0].numpy()
    void = run['model'].panoptic_fusion_head.num_classes
    ours = [(int(v) % INSTANCE_OFFSET, pan == v) for v in np.unique(pan) if v != void]
    theirs = [(s['category_id'] if s['isthing'] else s['category_id'] + num_things - 1,
               ref['panoptic_seg'] == s['id']) for s in segments]
    assert len(ours) == len(theirs)
    for label, mask in theirs:
        best = max((iou(mask, m) for lbl, m in ours if lbl == label), default=0.0)
        assert best >= 0.99, f'segment of label {label}: best IoU {best:.4f}'
        print(f'parity panoptic segment label {label}: IoU {best:.4f}')


def test_deformable_manifest_converts_without_leftovers():
    sys.path.insert(0, osp.join(ROOT, 'tools', 'model_converters'))
    try:
        from panopticfcn_d2_to_mmdet import VARIANTS, convert_state_dict, target_shapes_for
    finally:
        sys.path.pop(0)
    meta = json.load(open(osp.join(FIXTURE, 'fixture.json')))
    manifest = json.load(open(osp.join(FIXTURE, meta['deform_manifest'])))
    source = {k: torch.zeros(shape) for k, shape, _ in manifest}
    config, options = VARIANTS['default']
    state = convert_state_dict(source, target_shapes_for(osp.join(ROOT, 'configs', config), options))
    assert state['kernel_generator.position_head.convs.0.conv.conv_offset.weight'].shape == (27, 256, 3, 3)
    assert state['kernel_generator.position_head.convs.2.gn.weight'].shape == (256, )
    with pytest.raises(ValueError, match='source keys no rule maps'):
        convert_state_dict({**source, 'extra.key': torch.zeros(1)},
                           target_shapes_for(osp.join(ROOT, 'configs', config), options))
