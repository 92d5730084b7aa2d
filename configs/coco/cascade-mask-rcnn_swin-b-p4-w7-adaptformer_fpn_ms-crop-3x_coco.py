# AdaptFormer Cascade Mask R-CNN + FPN, Swin-B (IN-22K pretrained), COCO, 3x ms-crop, AdamW, fp16.
# Paper: E3VA paper, Swin-B IN-22K: box/mask AP 51.4/44.5, 13,186 MB training memory per GPU.
# Budget (the E3VA paper's): two scaled parallel adapters (d=64, s=0.1) per block, beside the
# attention and the MLP: Swin-B backbone 3.11 M.
_base_ = './_base_/cascade-mask-rcnn_swin-b-p4-w7_fpn_ms-crop-3x_coco.py'
model = dict(backbone=dict(
    tuning=dict(type='AdaptFormer', branches=('attn', 'mlp'))))
