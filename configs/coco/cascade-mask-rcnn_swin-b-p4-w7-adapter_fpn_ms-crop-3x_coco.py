# Adapter Cascade Mask R-CNN + FPN, Swin-B (IN-22K pretrained), COCO, 3x ms-crop, AdamW, fp16.
# Paper: E3VA paper, Swin-B IN-22K: box/mask AP 50.9/43.8, 12,557 MB training memory per GPU.
_base_ = './_base_/cascade-mask-rcnn_swin-b-p4-w7_fpn_ms-crop-3x_coco.py'
model = dict(backbone=dict(tuning=dict(type='Adapter')))
