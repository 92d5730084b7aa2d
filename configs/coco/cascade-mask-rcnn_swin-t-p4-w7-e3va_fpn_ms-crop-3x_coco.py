# E3VA Cascade Mask R-CNN + FPN, Swin-T (IN-1K pretrained), COCO, 3x ms-crop, AdamW, fp16.
# Paper: not reported for Swin-T (the E3VA paper reports COCO for Swin-B).
# Assumes 8 GPUs x 2 images (16 in all). For N GPUs x M images pass --auto-scale-lr:
# the lr is scaled by N*M/16 (auto_scale_lr.base_batch_size = 16).
_base_ = './cascade-mask-rcnn_swin-l-p4-w7-e3va_fpn_ms-crop-3x_coco.py'
model = dict(
    backbone=dict(embed_dims=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24], drop_path_rate=0.2,
                  init_cfg=dict(checkpoint='https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_tiny_patch4_window7_224.pth')),  # noqa
    neck=dict(in_channels=[96, 192, 384, 768]))
