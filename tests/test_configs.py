"""Every config under configs/ loads, builds its model (backbone shrunk as
with --cfg-options) and runs its data pipelines on the generated data; every
COCO config builds the paper's Cascade Mask R-CNN heads, which train a step
on the CPU."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope

from conftest import ROOT, run_tool
from tools.scenes.synthetic_scenes import CLASSES
from mmdet_e3va.engine import check_dataset_paths

CONFIGS = sorted(p for p in (ROOT / 'configs').glob('*/*.py')
                 if p.parent.name != '_base_')
COCO_CONFIGS = sorted((ROOT / 'configs/coco').glob('*.py'))
TINY_WIDTHS = [32, 64, 128, 256]
# The Swin COCO recipe's (and mmdet's Cascade R-CNN) regression target stds.
CASCADE_STDS = ([0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1],
                [0.033, 0.033, 0.067, 0.067])


def shrink(cfg):
    """Tiny Swin widths and no pretrained weights, as a user would do with
    --cfg-options; heads follow the widths."""
    backbone = cfg.model.backbone
    out_indices = backbone.get('out_indices', (0, 1, 2, 3))
    options = {
        'model.backbone.embed_dims': 32,
        'model.backbone.depths': (2, 2, 2, 2),
        'model.backbone.num_heads': (1, 2, 4, 8),
        'model.backbone.init_cfg': None,
    }
    if 'neck' in cfg.model:
        options['model.neck.in_channels'] = [TINY_WIDTHS[i] for i in out_indices]
    if 'decode_head' in cfg.model:
        options['model.decode_head.in_channels'] = TINY_WIDTHS
        options['model.auxiliary_head.in_channels'] = TINY_WIDTHS[
            cfg.model.auxiliary_head.in_index]
    cfg.merge_from_dict(options)


def leaf_datasets(dataset):
    if 'dataset' in dataset:
        yield from leaf_datasets(dataset['dataset'])
    elif 'datasets' in dataset:
        for sub in dataset['datasets']:
            yield from leaf_datasets(sub)
    else:
        yield dataset


def test_every_benchmark_and_method_has_configs():
    names = {p.name for p in CONFIGS}
    for method in ('e3va', 'full', 'frozen'):
        for size in 'tsbl':
            assert (f'cascade-mask-rcnn_swin-{size}-p4-w7-{method}_fpn_'
                    f'ms-crop-3x_coco.py') in names
            assert (f'upernet_swin-{size}-p4-w7-{method}_8xb2-160k_'
                    f'ade20k-512x512.py') in names
    for method in ('e3va', 'full', 'frozen', 'bitfit', 'lntune', 'partial1',
                   'adapter', 'lora', 'adaptformer', 'lorand', 'mona'):
        assert any(method in n and 'coco' in n for n in names)
        assert any(method in n and 'ade20k' in n for n in names)
        assert f'retinanet_swin-l-p4-w7-{method}_fpn_1x_voc0712.py' in names


def test_inheritance_depth_at_most_three():
    for config in CONFIGS:
        depth, path = 0, config
        while True:
            text = path.read_text()
            line = next((l for l in text.splitlines()
                         if l.startswith('_base_')), None)
            if line is None or "'./" not in line:
                break
            path = path.parent / line.split("'./")[1].split("'")[0]
            depth += 1
        assert depth + 1 <= 3, config.name


@pytest.mark.parametrize('config', CONFIGS, ids=lambda p: p.stem)
def test_config_builds_and_pipelines_run(config, workspace, monkeypatch):
    monkeypatch.chdir(workspace)
    cfg = Config.fromfile(config)
    shrink(cfg)
    scope = cfg.default_scope
    init_default_scope(scope)
    if scope == 'mmdet':
        from mmdet.registry import DATASETS, MODELS
        for loader in ('train_dataloader', 'val_dataloader'):
            for dataset in leaf_datasets(cfg[loader].dataset):
                dataset.metainfo = dict(classes=CLASSES)
    else:
        from mmseg.registry import DATASETS, MODELS
    check_dataset_paths(cfg, ('train_dataloader', 'val_dataloader'))
    model = MODELS.build(cfg.model)
    if config in COCO_CONFIGS:
        check_paper_heads(model)
    tuning = cfg.model.backbone.get('tuning', {}).get('type', 'E3VA')
    trainable = sum(p.numel() for p in model.backbone.parameters()
                    if p.requires_grad)
    assert (trainable == 0) == (tuning == 'Frozen')
    for loader in ('train_dataloader', 'val_dataloader'):
        dataset = DATASETS.build(cfg[loader].dataset)
        sample = dataset[0]
        inputs = sample['inputs']
        assert isinstance(inputs, torch.Tensor) and inputs.shape[0] == 3
        assert min(inputs.shape[1:]) >= 64


def check_paper_heads(model):
    """The Swin paper's COCO Cascade Mask R-CNN box heads: three
    Shared4Conv1FCBBoxHead stages (SyncBN in the convs), GIoU loss (weight
    10) on decoded boxes, class-specific regression."""
    from mmdet.models.losses import GIoULoss
    from mmdet.models.roi_heads.bbox_heads import Shared4Conv1FCBBoxHead
    heads = model.roi_head.bbox_head
    assert len(heads) == 3
    for head, stds in zip(heads, CASCADE_STDS):
        assert type(head) is Shared4Conv1FCBBoxHead
        assert len(head.shared_convs) == 4 and len(head.shared_fcs) == 1
        assert all(isinstance(conv.bn, torch.nn.SyncBatchNorm)
                   for conv in head.shared_convs)
        assert head.reg_decoded_bbox and not head.reg_class_agnostic
        assert isinstance(head.loss_bbox, GIoULoss)
        assert head.loss_bbox.loss_weight == 10.0
        assert list(head.bbox_coder.stds) == stds


def test_coco_paper_heads_train_a_step_on_cpu(workspace, monkeypatch):
    """A train step of a shrunk COCO paper config (LoRA's paper budget) with
    its SyncBN heads reverted to BN, as the Runner does off-distributed."""
    monkeypatch.chdir(workspace)
    cfg = Config.fromfile(
        ROOT / 'configs/coco/cascade-mask-rcnn_swin-b-p4-w7-lora_fpn_ms-crop-3x_coco.py')  # noqa: E501
    shrink(cfg)
    # Narrow neck and heads (same types, losses and norms), few RoIs.
    model = cfg.model
    model.neck.out_channels = 32
    model.rpn_head.update(in_channels=32, feat_channels=32)
    model.roi_head.bbox_roi_extractor.out_channels = 32
    model.roi_head.mask_roi_extractor.out_channels = 32
    for head in model.roi_head.bbox_head:
        head.update(in_channels=32, conv_out_channels=32, fc_out_channels=64)
    model.roi_head.mask_head.update(in_channels=32, conv_out_channels=32)
    for stage in model.train_cfg.rcnn:
        stage.sampler.num = 16
    model.train_cfg.rpn_proposal.max_per_img = 64
    init_default_scope('mmdet')
    from mmdet.registry import DATASETS, MODELS
    dataset = cfg.train_dataloader.dataset
    dataset.metainfo = dict(classes=CLASSES)
    dataset.pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='Resize', scale=(96, 96), keep_ratio=True),
        dict(type='PackDetInputs')
    ]
    dataset = DATASETS.build(dataset)
    torch.manual_seed(0)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    assert not any(isinstance(m, torch.nn.SyncBatchNorm)
                   for m in model.modules())
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    head = model.roi_head.bbox_head[0]
    before = head.shared_convs[0].conv.weight.detach().clone()
    optim = OptimWrapper(torch.optim.SGD(trainable, lr=1e-2))
    losses = model.train_step(pseudo_collate([dataset[0]]), optim)
    for stage in range(3):
        assert torch.isfinite(losses[f's{stage}.loss_bbox'])
        assert losses[f's{stage}.loss_bbox'] > 0
    assert torch.isfinite(losses['loss'])
    assert not torch.equal(head.shared_convs[0].conv.weight, before)
    # The reverted BN ran in training mode: its running mean moved.
    assert head.shared_convs[0].bn.running_mean.abs().sum() > 0


def test_missing_dataset_path_is_named(workspace, monkeypatch):
    monkeypatch.chdir(workspace)
    config = ROOT / 'configs/ade20k/upernet_swin-t-p4-w7-e3va_8xb2-160k_ade20k-512x512.py'  # noqa: E501
    cfg = Config.fromfile(config)
    cfg.train_dataloader.dataset.data_root = 'data/no-such-ade'
    with pytest.raises(FileNotFoundError,
                       match='train_dataloader.dataset.data_root: '
                       'data/no-such-ade'):
        check_dataset_paths(cfg, ('train_dataloader', ))
    voc = Config.fromfile(
        ROOT / 'configs/voc/retinanet_swin-l-p4-w7-e3va_fpn_1x_voc0712.py')
    Path(workspace, 'data/VOCdevkit/VOC2012/ImageSets/Main/trainval.txt'
         ).rename(Path(workspace, 'data/voc2012-trainval.txt.bak'))
    try:
        with pytest.raises(FileNotFoundError,
                           match=r'datasets\.1\.ann_file: .*VOC2012'):
            check_dataset_paths(voc, ('train_dataloader', ))
    finally:
        Path(workspace, 'data/voc2012-trainval.txt.bak').rename(
            Path(workspace,
                 'data/VOCdevkit/VOC2012/ImageSets/Main/trainval.txt'))


def test_train_tool_fails_early_on_missing_data(workspace, tmp_path):
    config = ROOT / 'configs/demo/upernet_swin-demo-e3va_500it_synthetic-ade20k.py'  # noqa: E501
    (tmp_path / 'x.pth').touch()  # the checkpoint path is checked first
    with pytest.raises(AssertionError,
                       match='test_dataloader.dataset.data_root: /nowhere'):
        run_tool('test.py', config, tmp_path / 'x.pth', '--cfg-options',
                 'test_dataloader.dataset.data_root=/nowhere',
                 cwd=workspace)
