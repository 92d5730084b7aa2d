# frozen backbone UperNet, Swin-B (IN-22K pretrained), ADE20K 512x512, 160k iterations.
# Paper: not reported for Swin-B (the E3VA paper reports ADE20K for Swin-L).
_base_ = './_base_/upernet_swin-b-p4-w7_8xb2-160k_ade20k-512x512.py'
model = dict(backbone=dict(tuning=dict(type='Frozen')))
