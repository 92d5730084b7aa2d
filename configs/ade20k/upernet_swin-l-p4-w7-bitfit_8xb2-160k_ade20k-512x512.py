# BitFit UperNet, Swin-L (IN-22K pretrained), ADE20K 512x512, 160k iterations.
# Paper: E3VA paper, Swin-L IN-22K: mIoU 48.37.
# Budget (the E3VA paper's): every Swin parameter whose name contains 'bias', the relative
# position bias tables included: Swin-L backbone 0.30 M.
_base_ = './_base_/upernet_swin-l-p4-w7_8xb2-160k_ade20k-512x512.py'
model = dict(backbone=dict(
    tuning=dict(type='BitFit', position_bias_tables=True)))
