# Swin-L (IN-22K pretrained) in the Cascade Mask R-CNN COCO base, with its official checkpoint.
_base_ = './cascade-mask-rcnn_swin_fpn_ms-crop-3x_coco.py'
model = dict(
    backbone=dict(
        embed_dims=192,
        depths=[2, 2, 18, 2],
        num_heads=[6, 12, 24, 48],
        drop_path_rate=0.3,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_large_patch4_window7_224_22k.pth')),  # noqa
    neck=dict(in_channels=[192, 384, 768, 1536]))
