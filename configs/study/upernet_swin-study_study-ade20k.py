# Mini-study, semantic segmentation (the paper's ADE20K task at CPU scale):
# UperNet on the *target* scenes in ADE20K format
# (data/ade/ADEChallengeData2016/, ADE20K's 150-class label space), with a
# 2-2-6-2 Swin of width 32 pretrained on the *source* scenes. Metric: mIoU.
# tools/analysis/mini_study.py swaps `model.backbone.tuning` per method and
# sets seed, schedule and lr per run; this file holds the defaults. Paths are
# relative to the study root (work_dirs/mini_study/, where the tool writes
# data/ and runs/).
_base_ = ('mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_'
          '8xb2-160k_ade20k-512x512.py')
custom_imports = dict(imports=['mmdet_e3va'], allow_failed_imports=False)

pretrained = 'data/pretrained/swin-study_source-pretrain.pth'
data_root = 'data/ade/ADEChallengeData2016'
crop_size = (128, 128)
max_iters = 500

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        type='TunedSwinTransformer',
        tuning=dict(type='E3VA', rank=5),
        embed_dims=32,
        depths=(2, 2, 6, 2),
        num_heads=(1, 2, 4, 8),
        window_size=7,
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[32, 64, 128, 256], channels=64),
    auxiliary_head=dict(in_channels=128, channels=32))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(256, 128), ratio_range=(0.75, 1.5),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 128), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=1, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(constructor='TrainableOptimWrapperConstructor', optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=max_iters // 10),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=max_iters // 10,
         end=max_iters, by_epoch=False)
]
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
custom_hooks = [
    dict(type='TrainableParamsHook'),
    dict(type='EfficiencyHook'),
    dict(type='AdapterCheckpointHook'),
]
