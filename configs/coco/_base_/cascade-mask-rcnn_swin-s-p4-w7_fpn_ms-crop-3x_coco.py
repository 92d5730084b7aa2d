# Swin-S (IN-1K pretrained) in the Cascade Mask R-CNN COCO base, with its official checkpoint.
_base_ = './cascade-mask-rcnn_swin_fpn_ms-crop-3x_coco.py'
model = dict(
    backbone=dict(
        embed_dims=96,
        depths=[2, 2, 18, 2],
        num_heads=[3, 6, 12, 24],
        drop_path_rate=0.3,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_small_patch4_window7_224.pth')),  # noqa
    neck=dict(in_channels=[96, 192, 384, 768]))
