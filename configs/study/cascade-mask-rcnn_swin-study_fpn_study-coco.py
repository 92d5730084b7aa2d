# Mini-study, detection and instance segmentation (the paper's COCO task at
# CPU scale): Cascade Mask R-CNN + FPN on the *target* scenes in COCO format
# (data/coco/), with a 2-2-6-2 Swin of width 32 pretrained on the *source*
# scenes. Metrics: COCO bbox and segm mAP.
# The demo's model, pipelines, optimizer and hooks; this file changes the
# backbone depth and checkpoint, the classes and the schedule.
# tools/analysis/mini_study.py swaps `model.backbone.tuning` per method and
# sets seed, schedule and lr per run; this file holds the defaults. Paths are
# relative to the study root (work_dirs/mini_study/, where the tool writes
# data/ and runs/).
_base_ = '../demo/cascade-mask-rcnn_swin-demo-e3va_fpn_300it_synthetic-coco.py'

pretrained = 'data/pretrained/swin-study_source-classification.pth'
classes = ('person', 'car', 'bottle', 'chair')
max_iters = 600

model = dict(
    backbone=dict(
        tuning=dict(type='E3VA', rank=5),
        depths=(2, 2, 6, 2),
        drop_path_rate=0.0,  # as the seg study config says why
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    roi_head=dict(
        # The demo's three stages with 4 classes (a list replaces a list).
        bbox_head=[
            dict(head, num_classes=len(classes))
            for head in _base_.model.roi_head.bbox_head
        ],
        mask_head=dict(num_classes=len(classes))))

train_dataloader = dict(dataset=dict(metainfo=dict(classes=classes)))
val_dataloader = dict(dataset=dict(metainfo=dict(classes=classes)))
test_dataloader = val_dataloader

train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=max_iters // 10),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[max_iters * 8 // 10], gamma=0.1)
]
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
