# LoRand RetinaNet + FPN, Swin-L (IN-22K pretrained), Pascal VOC07+12 -> VOC2007 test.
# Paper: E3VA paper, Swin-L IN-22K: AP 86.8, 11,572 MB training memory per GPU.
# Budget: LoRand's own setting (2 branches of rank 8, bottleneck C/2), Swin-L backbone 1.79 M;
# the paper reports 1.31 M, which no LoRand bottleneck gives together with its Swin-B 1.20 M
# (docs/tuning_methods.md).
_base_ = './_base_/retinanet_swin-l-p4-w7_fpn_1x_voc0712.py'
model = dict(backbone=dict(tuning=dict(type='LoRand')))
