# Adapter UperNet, Swin-L (IN-22K pretrained), ADE20K 512x512, 160k iterations.
# Paper: E3VA paper, Swin-L IN-22K: mIoU 50.78.
_base_ = './_base_/upernet_swin-l-p4-w7_8xb2-160k_ade20k-512x512.py'
model = dict(backbone=dict(tuning=dict(type='Adapter')))
