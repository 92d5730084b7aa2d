# E3VA+ Cascade Mask R-CNN + FPN, Swin-B (IN-22K pretrained), COCO, 3x ms-crop, AdamW, fp16.
# Beyond the paper: E3VA plus adapter depthwise convs, per-stage rank and a highway adapter per
# stage (docs/tuning_methods.md); the E3VA paper reports E3VA at box/mask AP 50.5/43.8, 7,639 MB.
_base_ = './_base_/cascade-mask-rcnn_swin-b-p4-w7_fpn_ms-crop-3x_coco.py'
model = dict(backbone=dict(
    tuning=dict(type='E3VAPlus', rank=(20, 20, 20, 40), dwconv=True,
                gate=False, tap_input=False, highway_mix=True)))
