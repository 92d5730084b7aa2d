# Mini-study, semantic segmentation (the paper's ADE20K task at CPU scale):
# UperNet on the *target* scenes in ADE20K format
# (data/ade/ADEChallengeData2016/, ADE20K's 150-class label space), with a
# 2-2-6-2 Swin of width 32 pretrained on the *source* scenes. Metric: mIoU.
# The demo's model, pipelines and hooks; this file changes the backbone
# depth and checkpoint, the data root, the lr and the schedule.
# tools/analysis/mini_study.py swaps `model.backbone.tuning` per method and
# sets seed, schedule and lr per run; this file holds the defaults. Paths are
# relative to the study root (work_dirs/mini_study/, where the tool writes
# data/ and runs/).
_base_ = '../demo/upernet_swin-demo-e3va_500it_synthetic-ade20k.py'

pretrained = 'data/pretrained/swin-study_source-classification.pth'
data_root = 'data/ade/ADEChallengeData2016'
max_iters = 500

model = dict(
    backbone=dict(
        tuning=dict(type='E3VA', rank=5),
        depths=(2, 2, 6, 2),
        window_size=7,
        # No stochastic depth: on 1,000 iterations it only handicaps the
        # methods whose Swin runs in train mode (Full, the in-backbone
        # adapters), not Frozen and E3VA (frozen Swin in eval mode).
        drop_path_rate=0.0,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)))

train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=max_iters // 10),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=max_iters // 10,
         end=max_iters, by_epoch=False)
]
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
