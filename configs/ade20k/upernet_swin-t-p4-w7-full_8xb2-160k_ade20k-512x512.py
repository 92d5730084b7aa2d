# full fine-tuning UperNet, Swin-T (IN-1K pretrained), ADE20K 512x512, 160k iterations.
# Paper: not reported for Swin-T (the E3VA paper reports ADE20K for Swin-L).
_base_ = './_base_/upernet_swin-t-p4-w7_8xb2-160k_ade20k-512x512.py'
model = dict(backbone=dict(tuning=dict(type='Full')))
