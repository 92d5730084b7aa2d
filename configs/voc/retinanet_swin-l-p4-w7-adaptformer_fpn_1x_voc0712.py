# AdaptFormer RetinaNet + FPN, Swin-L (IN-22K pretrained), Pascal VOC07+12 -> VOC2007 test.
# Paper: E3VA paper, Swin-L IN-22K: AP 87.3, 11,036 MB training memory per GPU.
# Budget (the E3VA paper's): two scaled parallel adapters (d=64, s=0.1) per block, beside the
# attention and the MLP: Swin-L backbone 4.66 M.
_base_ = './_base_/retinanet_swin-l-p4-w7_fpn_1x_voc0712.py'
model = dict(backbone=dict(
    tuning=dict(type='AdaptFormer', branches=('attn', 'mlp'))))
