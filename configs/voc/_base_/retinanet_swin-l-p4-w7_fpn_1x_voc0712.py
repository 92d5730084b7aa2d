# Swin-L (IN-22K pretrained) in the RetinaNet VOC base, with its official checkpoint.
_base_ = './retinanet_swin_fpn_1x_voc0712.py'
model = dict(
    backbone=dict(
        embed_dims=192,
        depths=[2, 2, 18, 2],
        num_heads=[6, 12, 24, 48],
        drop_path_rate=0.3,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_large_patch4_window7_224_22k.pth')),  # noqa
    neck=dict(in_channels=[384, 768, 1536]))
