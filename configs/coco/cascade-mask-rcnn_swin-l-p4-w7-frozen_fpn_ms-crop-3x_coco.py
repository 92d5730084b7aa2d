# frozen backbone Cascade Mask R-CNN + FPN, Swin-L (IN-22K pretrained), COCO, 3x ms-crop, AdamW, fp16.
# Paper: not reported for Swin-L (the E3VA paper reports COCO for Swin-B).
_base_ = './_base_/cascade-mask-rcnn_swin-l-p4-w7_fpn_ms-crop-3x_coco.py'
model = dict(backbone=dict(tuning=dict(type='Frozen')))
