# LoRA RetinaNet + FPN, Swin-L (IN-22K pretrained), Pascal VOC07+12 -> VOC2007 test.
# Paper: E3VA paper, Swin-L IN-22K: AP 87.5, 10,127 MB training memory per GPU.
# Budget (the E3VA paper's): rank 64 on the query and value parts of every fused qkv (loralib
# MergedLinear, alpha 1): Swin-L backbone 4.62 M (paper 4.57 M).
_base_ = './_base_/retinanet_swin-l-p4-w7_fpn_1x_voc0712.py'
model = dict(backbone=dict(
    tuning=dict(type='LoRA', rank=64, alpha=1, targets=('q', 'v'))))
