# Mona Cascade Mask R-CNN + FPN, Swin-B (IN-22K pretrained), COCO, 3x ms-crop, AdamW, fp16.
# Paper: not reported for Swin-B (the E3VA paper reports COCO for Swin-B).
# Assumes 8 GPUs x 2 images (16 in all). For N GPUs x M images pass --auto-scale-lr:
# the lr is scaled by N*M/16 (auto_scale_lr.base_batch_size = 16).
_base_ = './cascade-mask-rcnn_swin-b-p4-w7-e3va_fpn_ms-crop-3x_coco.py'
model = dict(backbone=dict(tuning=dict(_delete_=True, type='Mona')))
