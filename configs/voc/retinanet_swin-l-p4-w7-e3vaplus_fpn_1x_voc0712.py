# E3VA+ RetinaNet + FPN, Swin-L (IN-22K pretrained), Pascal VOC07+12 -> VOC2007 test.
# Beyond the paper: E3VA plus adapter depthwise convs, per-stage rank and a highway adapter per
# stage (docs/tuning_methods.md); the E3VA paper reports E3VA at AP 86.5, 4,819 MB.
_base_ = './_base_/retinanet_swin-l-p4-w7_fpn_1x_voc0712.py'
model = dict(backbone=dict(
    tuning=dict(type='E3VAPlus', rank=(20, 20, 20, 40), dwconv=True,
                gate=False, tap_input=False, highway_mix=True)))
