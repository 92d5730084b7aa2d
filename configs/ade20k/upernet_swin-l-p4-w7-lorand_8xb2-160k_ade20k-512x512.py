# LoRand UperNet, Swin-L (IN-22K pretrained), ADE20K 512x512, 160k iterations.
# Paper: E3VA paper, Swin-L IN-22K: mIoU 50.76.
# Budget: LoRand's own setting (2 branches of rank 8, bottleneck C/2), Swin-L backbone 1.79 M;
# the paper reports 1.31 M, which no LoRand bottleneck gives together with its Swin-B 1.20 M
# (docs/tuning_methods.md).
_base_ = './_base_/upernet_swin-l-p4-w7_8xb2-160k_ade20k-512x512.py'
model = dict(backbone=dict(tuning=dict(type='LoRand')))
