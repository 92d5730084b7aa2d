# AdaptFormer UperNet, Swin-L (IN-22K pretrained), ADE20K 512x512, 160k iterations.
# Paper: E3VA paper, Swin-L IN-22K: mIoU 50.83.
# Budget (the E3VA paper's): two scaled parallel adapters (d=64, s=0.1) per block, beside the
# attention and the MLP: Swin-L backbone 4.66 M.
_base_ = './_base_/upernet_swin-l-p4-w7_8xb2-160k_ade20k-512x512.py'
model = dict(backbone=dict(
    tuning=dict(type='AdaptFormer', branches=('attn', 'mlp'))))
