"""CropClassifier and CropAccuracy: a backbone with a linear classifier that
learns crop labels, whose checkpoint's backbone loads into Panoptic FCN's
backbone through the config's ``init_cfg``, and the accuracy it is read with."""
import copy

import pytest
import torch
from mmdet.registry import METRICS, MODELS
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

import projects.synthetic.synthetic_panoptic  # noqa: F401  (registers CropClassifier, CropAccuracy)

BACKBONE = dict(type='ResNet', depth=18, base_channels=8, num_stages=4, out_indices=(0, 1, 2, 3),
                norm_cfg=dict(type='GN', num_groups=4, requires_grad=True), style='pytorch',
                init_cfg=None)


def build_classifier(num_classes: int = 3):
    return MODELS.build(dict(type='CropClassifier', backbone=BACKBONE, num_classes=num_classes,
                             in_channels=64, data_preprocessor=dict(type='DetDataPreprocessor')))


def samples(labels):
    out = []
    for label in labels:
        sample = DetDataSample()
        sample.gt_instances = InstanceData(labels=torch.tensor([label]))
        out.append(sample)
    return out


def test_loss_is_cross_entropy_and_reaches_the_backbone():
    torch.manual_seed(0)
    model = build_classifier()
    inputs = torch.randn(4, 3, 32, 32)
    labels = [0, 1, 2, 1]
    losses = model(inputs, samples(labels), mode='loss')
    logits = model(inputs, mode='tensor')
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor(labels))
    assert losses['loss_cls'].item() == pytest.approx(expected.item(), rel=1e-5)
    assert losses['acc'].item() == pytest.approx(
        100 * (logits.argmax(1) == torch.tensor(labels)).float().mean().item())
    losses['loss_cls'].backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0


def test_it_learns_to_tell_two_shapes_apart():
    """Bright squares against bright crosses on random dark backgrounds: a few
    dozen steps take the loss from chance to near zero."""
    torch.manual_seed(0)
    model = build_classifier(num_classes=2)
    square = torch.zeros(32, 32)
    square[8:24, 8:24] = 1
    cross = torch.zeros(32, 32)
    cross[13:19, 4:28] = 1
    cross[4:28, 13:19] = 1
    labels = torch.arange(16) % 2
    shapes = torch.stack([square, cross])[labels][:, None].expand(-1, 3, -1, -1)
    inputs = 2 * shapes + 0.3 * torch.randn(16, 3, 32, 32)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(40):
        loss = model(inputs, samples(labels.tolist()), mode='loss')['loss_cls']
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert first == pytest.approx(0.69, abs=0.15)
    assert loss.item() < 0.05
    model.eval()
    predicted = model(inputs, samples(labels.tolist()), mode='predict')
    assert [s.pred_instances.labels.item() for s in predicted] == labels.tolist()
    scores = torch.stack([s.pred_instances.scores[0] for s in predicted])
    torch.testing.assert_close(scores.sum(1), torch.ones(16))


def test_backbone_weights_load_into_panoptic_fcn(tmp_path):
    torch.manual_seed(0)
    classifier = build_classifier()
    checkpoint = tmp_path / 'classifier.pth'
    torch.save({'state_dict': classifier.state_dict(), 'meta': {}}, checkpoint)
    backbone = copy.deepcopy(BACKBONE)
    backbone['init_cfg'] = dict(type='Pretrained', prefix='backbone.', checkpoint=str(checkpoint))
    gn = dict(type='GN', num_groups=4)
    detector = MODELS.build(dict(
        type='PanopticFCN',
        num_things_classes=2,
        num_stuff_classes=2,
        data_preprocessor=dict(type='DetDataPreprocessor', pad_size_divisor=32),
        backbone=backbone,
        neck=dict(type='FPN', in_channels=[8, 16, 32, 64], out_channels=16, num_outs=5,
                  add_extra_convs='on_output'),
        feature_encoder=dict(type='FeatureEncoder', in_channels=16, fpn_channels=16,
                             out_channels=8, norm_cfg=gn),
        kernel_generator=dict(
            type='KernelGenerator',
            position_head=dict(type='PositionHead', in_channels=16, feat_channels=16,
                               norm_cfg=gn, conv_cfg=None),
            kernel_head=dict(type='KernelHead', in_channels=16, feat_channels=16,
                             embed_channels=8, norm_cfg=gn))))
    assert not torch.equal(detector.backbone.conv1.weight, classifier.backbone.conv1.weight)
    detector.init_weights()
    for name, value in classifier.backbone.state_dict().items():
        torch.testing.assert_close(detector.backbone.state_dict()[name], value, msg=name)


def test_crop_accuracy_overall_and_per_class():
    metric = METRICS.build(dict(type='CropAccuracy'))
    metric.dataset_meta = dict(classes=('circle', 'square', 'star'))
    truth = [0, 0, 0, 1, 1, 2]
    pred = [0, 0, 1, 1, 0, 2]
    metric.process({}, [dict(gt_instances=dict(labels=torch.tensor([t])),
                             pred_instances=dict(labels=torch.tensor([p])))
                        for t, p in zip(truth, pred)])
    result = metric.evaluate(size=len(truth))
    assert result['crop/accuracy'] == pytest.approx(400 / 6)
    assert result['crop/accuracy_circle'] == pytest.approx(200 / 3)
    assert result['crop/accuracy_square'] == pytest.approx(50)
    assert result['crop/accuracy_star'] == pytest.approx(100)
    assert result['crop/mean_class_accuracy'] == pytest.approx((200 / 3 + 50 + 100) / 3)
