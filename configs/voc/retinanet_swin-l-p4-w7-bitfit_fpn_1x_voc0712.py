# BitFit RetinaNet + FPN, Swin-L (IN-22K pretrained), Pascal VOC07+12 -> VOC2007 test.
# Paper: E3VA paper, Swin-L IN-22K: AP 85.7, 10,861 MB training memory per GPU.
# Budget (the E3VA paper's): every Swin parameter whose name contains 'bias', the relative
# position bias tables included: Swin-L backbone 0.30 M.
_base_ = './_base_/retinanet_swin-l-p4-w7_fpn_1x_voc0712.py'
model = dict(backbone=dict(
    tuning=dict(type='BitFit', position_bias_tables=True)))
