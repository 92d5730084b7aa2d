# Demo: E3VA UperNet on the synthetic ADE20K-format scenes that
# `tools/generate_demo_data.py` writes to data/ade/ADEChallengeData2016/,
# with the tiny Swin pretrained by `tools/pretrain_tiny_swin.py`.
# The paper setting is configs/ade20k/upernet_swin-l-p4-w7-e3va_8xb2-160k_ade20k-512x512.py;
# this file shrinks widths, crops and the schedule.
_base_ = [
    'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py',
    '../_base_/tuned_swin_runtime.py'
]

pretrained = 'data/pretrained/swin-demo_synthetic-pretrain.pth'
crop_size = (128, 128)
max_iters = 500

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        type='TunedSwinTransformer',
        tuning=dict(type='E3VA', rank=4),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained),
        embed_dims=32,
        depths=(2, 2, 2, 2),
        num_heads=(1, 2, 4, 8),
        drop_path_rate=0.1),
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
    batch_size=4, num_workers=1, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(num_workers=1, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(
    constructor='TrainableOptimWrapperConstructor', optimizer=dict(lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=20),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=20, end=max_iters,
         by_epoch=False)
]
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(
        type='CrashSafeCheckpointHook', by_epoch=False, interval=100,
        max_keep_ckpts=2))
custom_hooks = _base_.custom_hooks + [dict(type='AdapterCheckpointHook')]
