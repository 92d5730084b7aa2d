# E3VA+ Cascade Mask R-CNN + FPN, Swin-B (IN-22K pretrained), COCO, 3x ms-crop, AdamW, fp16.
# Beyond the paper: E3VA plus adapter depthwise convs, per-stage rank and a highway adapter per
# stage (README "E3VA+"); the E3VA paper reports E3VA at box/mask AP 50.5/43.8, 7,639 MB.
# Assumes 8 GPUs x 2 images (16 in all). For N GPUs x M images pass --auto-scale-lr:
# the lr is scaled by N*M/16 (auto_scale_lr.base_batch_size = 16).
_base_ = './cascade-mask-rcnn_swin-b-p4-w7-e3va_fpn_ms-crop-3x_coco.py'
model = dict(backbone=dict(tuning=dict(
    _delete_=True, type='E3VAPlus', rank=(20, 20, 20, 40), dwconv=True, gate=False,
    tap_input=False, highway_mix=True)))
