# LoRA UperNet, Swin-L (IN-22K pretrained), ADE20K 512x512, 160k iterations.
# Paper: E3VA paper, Swin-L IN-22K: mIoU 50.34.
# Budget (the E3VA paper's): rank 64 on the query and value parts of every fused qkv (loralib
# MergedLinear, alpha 1): Swin-L backbone 4.62 M (paper 4.57 M).
_base_ = './_base_/upernet_swin-l-p4-w7_8xb2-160k_ade20k-512x512.py'
model = dict(backbone=dict(
    tuning=dict(type='LoRA', rank=64, alpha=1, targets=('q', 'v'))))
