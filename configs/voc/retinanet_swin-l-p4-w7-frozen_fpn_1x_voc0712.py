# frozen backbone RetinaNet + FPN, Swin-L (IN-22K pretrained), Pascal VOC07+12 -> VOC2007 test.
# Paper: E3VA paper, Swin-L IN-22K: AP 83.6, 3,967 MB training memory per GPU.
_base_ = './_base_/retinanet_swin-l-p4-w7_fpn_1x_voc0712.py'
model = dict(backbone=dict(tuning=dict(type='Frozen')))
