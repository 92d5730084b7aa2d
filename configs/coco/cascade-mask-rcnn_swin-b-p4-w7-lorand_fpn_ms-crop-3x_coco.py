# LoRand Cascade Mask R-CNN + FPN, Swin-B (IN-22K pretrained), COCO, 3x ms-crop, AdamW, fp16.
# Paper: E3VA paper, Swin-B IN-22K: box/mask AP 51.0/43.9, 13,598 MB training memory per GPU.
# Budget: LoRand's own setting (2 branches of rank 8, bottleneck C/2), Swin-B backbone 1.20 M
# (paper 1.20 M).
_base_ = './_base_/cascade-mask-rcnn_swin-b-p4-w7_fpn_ms-crop-3x_coco.py'
model = dict(backbone=dict(tuning=dict(type='LoRand')))
