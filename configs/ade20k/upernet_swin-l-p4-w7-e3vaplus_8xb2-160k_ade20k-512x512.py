# E3VA+ UperNet, Swin-L (IN-22K pretrained), ADE20K 512x512, 160k iterations.
# Beyond the paper: E3VA plus adapter depthwise convs, per-stage rank and a highway adapter per
# stage (docs/tuning_methods.md); the E3VA paper reports E3VA at mIoU 49.64.
_base_ = './_base_/upernet_swin-l-p4-w7_8xb2-160k_ade20k-512x512.py'
model = dict(backbone=dict(
    tuning=dict(type='E3VAPlus', rank=(20, 20, 20, 40), dwconv=True,
                gate=False, tap_input=False, highway_mix=True)))
