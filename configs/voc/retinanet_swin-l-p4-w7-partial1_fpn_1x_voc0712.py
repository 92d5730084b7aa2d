# Partial-1 RetinaNet + FPN, Swin-L (IN-22K pretrained), Pascal VOC07+12 -> VOC2007 test.
# Paper: E3VA paper, Swin-L IN-22K: AP 85.4, 3,943 MB training memory per GPU.
_base_ = './_base_/retinanet_swin-l-p4-w7_fpn_1x_voc0712.py'
model = dict(backbone=dict(tuning=dict(type='Partial', num_blocks=1)))
