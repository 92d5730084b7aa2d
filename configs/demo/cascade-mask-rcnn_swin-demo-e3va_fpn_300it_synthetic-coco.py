# Demo: E3VA Cascade Mask R-CNN on the synthetic COCO-format scenes that
# `tools/generate_demo_data.py` writes to data/coco/, with a tiny Swin
# pretrained by `tools/pretrain_tiny_swin.py` (CPU, no downloads).
# The paper setting is configs/coco/cascade-mask-rcnn_swin-b-p4-w7-e3va_fpn_ms-crop-3x_coco.py;
# this file shrinks widths, images and the schedule, and keeps mmdet's default 2fc box heads
# (the paper configs use the Swin recipe's 4conv1fc GIoU heads with SyncBN).
_base_ = [
    'mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py',
    '../_base_/tuned_swin_runtime.py'
]

pretrained = 'data/pretrained/swin-demo_synthetic-pretrain.pth'
classes = ('ball', 'box', 'tent')
img_scale = (128, 128)
max_iters = 300

model = dict(
    backbone=dict(
        _delete_=True,
        type='TunedSwinTransformer',
        tuning=dict(type='E3VA', rank=4),
        embed_dims=32,
        depths=(2, 2, 2, 2),
        num_heads=(1, 2, 4, 8),
        window_size=7,
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        mask_roi_extractor=dict(out_channels=64),
        bbox_head=[
            dict(
                type='Shared2FCBBoxHead',
                in_channels=64,
                fc_out_channels=256,
                roi_feat_size=7,
                num_classes=len(classes),
                bbox_coder=dict(
                    type='DeltaXYWHBBoxCoder',
                    target_means=[0., 0., 0., 0.],
                    target_stds=stds),
                reg_class_agnostic=True,
                loss_cls=dict(
                    type='CrossEntropyLoss',
                    use_sigmoid=False,
                    loss_weight=1.0),
                loss_bbox=dict(type='SmoothL1Loss', beta=1.0,
                               loss_weight=1.0))
            for stds in ([0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1],
                         [0.033, 0.033, 0.067, 0.067])
        ],
        mask_head=dict(
            in_channels=64, conv_out_channels=64,
            num_classes=len(classes))),
    train_cfg=dict(rpn_proposal=dict(nms_pre=1000, max_per_img=500)),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=2,
    num_workers=1,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(metainfo=dict(classes=classes), pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=1,
    dataset=dict(metainfo=dict(classes=classes), pipeline=test_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters)
optim_wrapper = dict(
    constructor='TrainableOptimWrapperConstructor',
    optimizer=dict(
        _delete_=True, type='AdamW', lr=2e-4, betas=(0.9, 0.999),
        weight_decay=0.05),
    paramwise_cfg=dict(custom_keys=dict(norm=dict(decay_mult=0.))))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=20),
    dict(type='MultiStepLR', by_epoch=False, milestones=[240], gamma=0.1)
]
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(
        type='CrashSafeCheckpointHook', by_epoch=False, interval=100,
        max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
custom_hooks = _base_.custom_hooks + [dict(type='AdapterCheckpointHook')]
