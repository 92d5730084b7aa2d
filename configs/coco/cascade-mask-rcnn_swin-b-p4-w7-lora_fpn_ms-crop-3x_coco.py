# LoRA Cascade Mask R-CNN + FPN, Swin-B (IN-22K pretrained), COCO, 3x ms-crop, AdamW, fp16.
# Paper: E3VA paper, Swin-B IN-22K: box/mask AP 51.2/44.3, 11,975 MB training memory per GPU.
# Budget (the E3VA paper's): rank 64 on the query and value parts of every fused qkv (loralib
# MergedLinear, alpha 1): Swin-B backbone 3.08 M (paper 3.03 M).
_base_ = './_base_/cascade-mask-rcnn_swin-b-p4-w7_fpn_ms-crop-3x_coco.py'
model = dict(backbone=dict(
    tuning=dict(type='LoRA', rank=64, alpha=1, targets=('q', 'v'))))
