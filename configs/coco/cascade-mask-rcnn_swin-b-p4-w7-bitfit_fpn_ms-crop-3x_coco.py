# BitFit Cascade Mask R-CNN + FPN, Swin-B (IN-22K pretrained), COCO, 3x ms-crop, AdamW, fp16.
# Paper: E3VA paper, Swin-B IN-22K: box/mask AP 47.9/41.9, 13,657 MB training memory per GPU.
# Budget (the E3VA paper's): every Swin parameter whose name contains 'bias', the relative
# position bias tables included: Swin-B backbone 0.20 M.
_base_ = './_base_/cascade-mask-rcnn_swin-b-p4-w7_fpn_ms-crop-3x_coco.py'
model = dict(backbone=dict(
    tuning=dict(type='BitFit', position_bias_tables=True)))
