"""The whole Panoptic FCN exported to ONNX and run with onnxruntime: the authors' segments on
the reference fixture, the deformable variant, dynamic shapes, the same PQ as PyTorch on
generated data, and clear errors for what it cannot take."""
import json
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch
from mmdet.registry import DATASETS, METRICS, MODELS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import mmpfcn  # noqa: F401  (registers the model)
from mmpfcn.deployment import (OnnxModelError, OnnxPanopticFCN, OnnxPanopticRunner,
                               export_onnx, pipeline_resize, quantize_onnx, read_settings)
from mmpfcn.deployment.panoptic_fcn_graph import PanopticFCNGraph
from mmpfcn.deployment.parity import compare_with_pytorch
from projects.synthetic.synthetic_panoptic import (SYNTHETIC_METAINFO,
                                                   generate_synthetic_panoptic)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REFERENCE = osp.join(ROOT, 'tests', 'data', 'panopticfcn_reference')
TINY_CONFIG = osp.join(ROOT, 'tests', 'data', 'configs', 'tiny_panoptic_fcn.py')


def tiny_model(seed: int = 0, **kernel_generator):
    init_default_scope('mmdet')
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.model.kernel_generator.update(kernel_generator)
    torch.manual_seed(seed)
    return MODELS.build(cfg.model).eval(), cfg


def assert_follows_pytorch(report: dict, min_matched: float = 0.95) -> None:
    """The same panoptic segments (IoU >= 0.99), and at least ``min_matched`` of PyTorch's
    instances with an ONNX instance of the same class, mask (IoU >= 0.99) and score (1e-4).

    The rest is rounding: convolutions in onnxruntime and PyTorch differ by 1e-5, which
    now and then moves a near-tie centre peak, a threshold or a kernel fusion decision.
    """
    assert report['pytorch_instances'] > 0
    assert report['matched_instances'] >= min_matched * report['pytorch_instances']
    assert report['max_score_diff'] <= 1e-4
    assert report['matched_segments'] == report['pytorch_segments'] == report['onnx_segments']
    assert report['min_segment_iou'] >= 0.99


def test_r50_export_gives_the_authors_segments(reference_config, authors_checkpoint,
                                               reference_image, check_reference_segments,
                                               tmp_path):
    init_default_scope('mmdet')
    reference_config.model.backbone.init_cfg = None
    model = MODELS.build(reference_config.model).eval()
    load_checkpoint(model, authors_checkpoint, map_location='cpu')
    onnx_file = str(tmp_path / 'r50.onnx')
    height, width = reference_image.shape[:2]
    export_onnx(model, onnx_file, (height, width),
                resize=pipeline_resize(reference_config.test_dataloader.dataset.pipeline))
    onnx.checker.check_model(onnx.load(onnx_file))
    runner = OnnxPanopticRunner(onnx_file, num_threads=2)
    check_reference_segments(runner.predict(reference_image), model)
    assert_follows_pytorch(compare_with_pytorch(model, runner, reference_image))


def test_deformable_position_head_exports_and_follows_pytorch(reference_config, reference_image,
                                                               tmp_path):
    """The default R50 config (deformable position head, mmpfcn's SampledDCNv2) with the
    fixture's weights for the authors' DEFORM = True model."""
    meta = json.load(open(osp.join(REFERENCE, 'fixture.json')))
    authors = str(tmp_path / 'deform.pth')
    command = meta['generate'].split()[1:]
    command[command.index('--out') + 1] = authors
    command[command.index('--manifest') + 1] = meta['deform_manifest']
    subprocess.run([sys.executable, *command], cwd=REFERENCE, check=True, capture_output=True)
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'panoptic_fcn',
                                   'panoptic-fcn_r50_fpn_8xb2-ms-1x_coco.py'))
    cfg.model.backbone.init_cfg = None
    assert cfg.model.kernel_generator.position_head.conv_cfg.type == 'SampledDCNv2'
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model).eval()
    load_checkpoint(model, authors, map_location='cpu')
    onnx_file = str(tmp_path / 'dcn.onnx')
    export_onnx(model, onnx_file, reference_image.shape[:2])
    ops = {node.op_type for node in onnx.load(onnx_file).graph.node}
    assert not any(op.startswith('MMCV') or 'Deform' in op for op in ops)
    # The generated DEFORM weights give many near-tie kernels: 82 of 91 instances matched here.
    assert_follows_pytorch(
        compare_with_pytorch(model, OnnxPanopticRunner(onnx_file, 2), reference_image),
        min_matched=0.85)


def test_dynamic_shape_export_follows_pytorch_at_two_sizes(tmp_path):
    model, _ = tiny_model()
    onnx_file = str(tmp_path / 'dynamic.onnx')
    export_onnx(model, onnx_file, (64, 96), dynamic=True)
    runner = OnnxPanopticRunner(onnx_file, num_threads=2)
    rng = np.random.default_rng(0)
    for shape in ((64, 96), (90, 48)):
        image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        assert_follows_pytorch(compare_with_pytorch(model, runner, image))


def test_position_prior_exports_and_follows_pytorch(tmp_path):
    model, _ = tiny_model(position_prior_sigma=1.5)
    onnx_file = str(tmp_path / 'prior.onnx')
    export_onnx(model, onnx_file, (64, 96))
    image = np.random.default_rng(1).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    runner = OnnxPanopticRunner(onnx_file, num_threads=2)
    assert_follows_pytorch(compare_with_pytorch(model, runner, image))
    # The prior is in the graph: the same weights without it give other masks.
    plain = tiny_model(position_prior_sigma=None)[0]
    with torch.no_grad():
        inputs = torch.from_numpy(image).permute(2, 0, 1)[None]
        masks = [PanopticFCNGraph(m)(inputs)[0] for m in (model, plain)]
    assert masks[0].shape != masks[1].shape or not torch.equal(*masks)


def briefly_trained_model(root: str):
    """A tiny model trained for a few steps on a generated val split (written to ``root``),
    and that split as a dataset."""
    generate_synthetic_panoptic(root, num_train=4, num_val=6, size=64, seed=1)
    model, _ = tiny_model()
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='LoadPanopticAnnotations', with_bbox=True, with_mask=True,
                     with_seg=True),
                dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape',
                                                      'img_shape', 'scale_factor'))]
    dataset = DATASETS.build(dict(
        type='CheckedCocoPanopticDataset', data_root=root, metainfo=SYNTHETIC_METAINFO,
        ann_file='annotations/panoptic_val.json',
        data_prefix=dict(img='val/', seg='annotations/panoptic_val/'), pipeline=pipeline))
    batch = pseudo_collate([dataset[i] for i in range(len(dataset))])
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    model.train()
    for _ in range(40):
        losses = model(**model.data_preprocessor(batch, training=True), mode='loss')
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
    return model.eval(), dataset


def panoptic_scores(predict, dataset, root: str) -> dict:
    """The config's metric (``CocoPanopticSizeMetric``) on ``predict``'s results for the
    whole ``dataset``."""
    metric = METRICS.build(dict(type='CocoPanopticSizeMetric',
                                ann_file=osp.join(root, 'annotations/panoptic_val.json'),
                                seg_prefix=osp.join(root, 'annotations/panoptic_val')))
    metric.dataset_meta = dataset.metainfo
    with torch.no_grad():
        samples = predict(pseudo_collate([dataset[i] for i in range(len(dataset))]))
    metric.process({}, [s.to_dict() for s in samples])
    return metric.evaluate(len(samples))


def test_exported_synthetic_model_scores_the_pytorch_pq(tmp_path):
    """A tiny model trained briefly on generated images, scored on them by PyTorch and by
    onnxruntime (OnnxPanopticFCN, as tools/deployment/test_onnx.py) with the same metric."""
    root = str(tmp_path / 'synthetic')
    model, dataset = briefly_trained_model(root)
    onnx_file = str(tmp_path / 'synthetic.onnx')
    export_onnx(model, onnx_file, (64, 64), dataset_meta=dataset.metainfo)
    onnx_model = OnnxPanopticFCN(onnx_file, num_threads=2)
    scores = {name: panoptic_scores(predict, dataset, root)
              for name, predict in (('pytorch', model.test_step),
                                    ('onnxruntime', onnx_model.test_step))}
    assert scores['pytorch']['coco_panoptic/PQ'] > 1  # trained enough to score
    for key in ('PQ', 'PQ_th', 'PQ_st'):
        assert scores['onnxruntime'][f'coco_panoptic/{key}'] == pytest.approx(
            scores['pytorch'][f'coco_panoptic/{key}'], abs=0.1), key


def conv_weights_quantized(onnx_file: str) -> dict:
    """For each ``Conv`` node: whether its weight comes through ``DequantizeLinear`` (int8)."""
    nodes = onnx.load(onnx_file).graph.node
    producers = {out: node.op_type for node in nodes for out in node.output}
    return {node.name: producers.get(node.input[1]) == 'DequantizeLinear'
            for node in nodes if node.op_type == 'Conv'}


def test_static_int8_keeps_the_pq_with_the_first_layers_float(tmp_path):
    """Static int8 (calibrated on the generated training images): every convolution int8
    except the backbone's at stride 2 and 4 (the ResNet's conv1 and layer1), the runner settings
    kept, and the PQ of PyTorch within 0.5."""
    from mmpfcn.apis.benchmark import ModelSpec
    root = str(tmp_path / 'synthetic')
    model, dataset = briefly_trained_model(root)
    onnx_file, int8_file = str(tmp_path / 'float.onnx'), str(tmp_path / 'int8.onnx')
    export_onnx(model, onnx_file, (64, 64), dataset_meta=dataset.metainfo)
    settings = quantize_onnx(onnx_file, int8_file, 'static', osp.join(root, 'train'))
    assert settings['quantization'] == 'static int8, backbone float up to stride 4'
    assert read_settings(int8_file) == settings
    quantized = conv_weights_quantized(int8_file)
    kept_float = {name for name, int8 in quantized.items() if not int8}
    assert kept_float and kept_float == {
        name for name in quantized if re.match(r'/backbone/(conv1|layer1)/', name)}
    assert sum(quantized.values()) > len(kept_float)
    assert ModelSpec('tiny.py', int8_file).name == 'tiny [onnxruntime, static int8]'
    onnx_model = OnnxPanopticFCN(int8_file, num_threads=2)
    scores = {name: panoptic_scores(predict, dataset, root)
              for name, predict in (('pytorch', model.test_step),
                                    ('static int8', onnx_model.test_step))}
    assert scores['pytorch']['coco_panoptic/PQ'] > 1
    for key in ('PQ', 'PQ_th', 'PQ_st'):
        assert scores['static int8'][f'coco_panoptic/{key}'] == pytest.approx(
            scores['pytorch'][f'coco_panoptic/{key}'], abs=0.5), key


def test_quantization_errors_name_what_is_wrong(tmp_path):
    model, _ = tiny_model()
    onnx_file, out = str(tmp_path / 'static.onnx'), tmp_path / 'int8.onnx'
    export_onnx(model, onnx_file, (64, 64))
    with pytest.raises(OnnxModelError, match='needs calibration images'):
        quantize_onnx(onnx_file, str(out), 'static')
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(OnnxModelError, match=f'{empty} holds no image'):
        quantize_onnx(onnx_file, str(out), 'static', str(empty))
    broken = tmp_path / 'broken'
    broken.mkdir()
    (broken / 'photo.png').write_bytes(b'\x89PNG\r\n\x1a\n cut short')
    with pytest.raises(OnnxModelError, match=f'calibration image {broken}/photo.png'):
        quantize_onnx(onnx_file, str(out), 'static', str(broken))
    with pytest.raises(OnnxModelError, match='mode must be one of'):
        quantize_onnx(onnx_file, str(out), 'float16')
    tool = osp.join(ROOT, 'tools', 'deployment', 'quantize_onnx.py')
    tool = subprocess.run([sys.executable, tool, onnx_file, '--out', str(out),
                           '--calib-images', str(broken)], capture_output=True, text=True)
    assert tool.returncode == 1 and 'Traceback' not in tool.stderr
    assert tool.stderr.strip().splitlines()[-1] == (
        f'error: calibration image {broken}/photo.png is not an image file')  # after cv2's warnings
    assert not out.exists() and list(tmp_path.glob('tmp*')) == []


def test_bad_inputs_get_clear_errors(tmp_path):
    model, _ = tiny_model()
    onnx_file = str(tmp_path / 'static.onnx')
    export_onnx(model, onnx_file, (64, 96))
    runner = OnnxPanopticRunner(onnx_file)
    with pytest.raises(OnnxModelError, match=r'3 channels, BGR\), got shape \(64, 96, 4\)'):
        runner.run(np.zeros((64, 96, 4), np.uint8))
    with pytest.raises(OnnxModelError, match=r'exported for 64x96 .* this one is 80x96 .*'
                       '--dynamic-shape'):
        runner.run(np.zeros((80, 96, 3), np.uint8))
    not_onnx = tmp_path / 'weights.onnx'
    not_onnx.write_bytes(b'PK\x03\x04 not a protobuf at all' * 10)
    with pytest.raises(OnnxModelError, match=f'{not_onnx} is not an ONNX model'):
        OnnxPanopticRunner(str(not_onnx))
    foreign = str(tmp_path / 'foreign.onnx')
    torch.onnx.export(torch.nn.Conv2d(3, 3, 1), (torch.zeros(1, 3, 4, 4), ), foreign,
                      dynamo=False)
    with pytest.raises(OnnxModelError, match='not one exported by mmpfcn'):
        OnnxPanopticRunner(foreign)
    with pytest.raises(OnnxModelError, match='does not exist'):
        OnnxPanopticRunner(str(tmp_path / 'missing.onnx'))


def test_demo_and_benchmark_take_the_exported_model(tmp_path, monkeypatch):
    """``demo/image_demo.py --backend onnxruntime`` writes the demo's files, and the benchmark
    tool measures an export as a row of its table."""
    import importlib.util

    from mmpfcn.apis.benchmark import ModelSpec, Settings, run_benchmark
    model, cfg = tiny_model()
    onnx_file = str(tmp_path / 'tiny.onnx')
    export_onnx(model, onnx_file, (64, 64), dataset_meta=SYNTHETIC_METAINFO)
    root = str(tmp_path / 'synthetic')
    generate_synthetic_panoptic(root, num_train=1, num_val=2, size=64, seed=2)
    spec = importlib.util.spec_from_file_location('image_demo',
                                                  osp.join(ROOT, 'demo', 'image_demo.py'))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    out_dir = tmp_path / 'out'
    demo.main([osp.join(root, 'val'), onnx_file, '--backend', 'onnxruntime',
               '--out-dir', str(out_dir)])
    for name in ('000001', '000002'):
        assert (out_dir / 'vis' / f'{name}.png').is_file()
        annotation = json.loads((out_dir / 'panoptic' / f'{name}.json').read_text())
        assert annotation['file_name'] == f'{name}.png' and annotation['segments_info']
    with pytest.raises(SystemExit, match='is not an ONNX model'):
        demo.main([osp.join(root, 'val'), TINY_CONFIG, '--backend', 'onnxruntime',
                   '--out-dir', str(out_dir)])

    monkeypatch.setenv('MMPFCN_TEST_DATA', root)
    images = [np.full((64, 64, 3), 128, np.uint8)] * 2
    records = run_benchmark([ModelSpec(TINY_CONFIG), ModelSpec(TINY_CONFIG, onnx_file)],
                            Settings(shape=(64, 64), num_images=2, warmup=1), images)
    assert records[1]['name'] == 'tiny_panoptic_fcn [onnxruntime]'
    assert records[1]['flops'] is None and records[1]['params'] > 0
    assert records[1]['e2e_median_ms'] > 0 and records[1]['forward_median_ms'] > 0
