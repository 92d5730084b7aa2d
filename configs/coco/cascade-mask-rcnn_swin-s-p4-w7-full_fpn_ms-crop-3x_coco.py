# full fine-tuning Cascade Mask R-CNN + FPN, Swin-S (IN-1K pretrained), COCO, 3x ms-crop, AdamW, fp16.
# Paper: not reported for Swin-S (the E3VA paper reports COCO for Swin-B).
_base_ = './_base_/cascade-mask-rcnn_swin-s-p4-w7_fpn_ms-crop-3x_coco.py'
model = dict(backbone=dict(tuning=dict(type='Full')))
