# E3VA RetinaNet + FPN, Swin-L (IN-22K pretrained), Pascal VOC detection: VOC07+12 trainval
# repeated 3x, 4 epochs (12 effective), lr step at epoch 3, resize (1000, 600), AdamW;
# tested on VOC2007 test (11-point mAP). This is the paper's VOC task and detector.
# Paper: E3VA paper, Swin-L IN-22K: AP 86.5, 4,819 MB training memory per GPU.
_base_ = './_base_/retinanet_swin-l-p4-w7_fpn_1x_voc0712.py'
model = dict(backbone=dict(tuning=dict(type='E3VA')))
