# E3VA RetinaNet + FPN, Swin-L (IN-22K pretrained), Pascal VOC detection: VOC07+12 trainval
# repeated 3x, 4 epochs (12 effective), lr step at epoch 3, resize (1000, 600), AdamW;
# tested on VOC2007 test (11-point mAP). This is the paper's VOC task and detector.
# Paper: E3VA paper, Swin-L IN-22K: AP 86.5, 4,819 MB training memory per GPU.
# Assumes 8 GPUs x 2 images (16 in all). For N GPUs x M images pass --auto-scale-lr:
# the lr is scaled by N*M/16 (auto_scale_lr.base_batch_size = 16).
_base_ = 'mmdet::pascal_voc/retinanet_r50_fpn_1x_voc0712.py'
custom_imports = dict(imports=['mmdet_e3va'], allow_failed_imports=False)

pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_large_patch4_window7_224_22k.pth'  # noqa
model = dict(
    backbone=dict(
        _delete_=True,
        type='TunedSwinTransformer',
        tuning=dict(type='E3VA'),
        embed_dims=192,
        depths=[2, 2, 18, 2],
        num_heads=[6, 12, 24, 48],
        window_size=7,
        mlp_ratio=4,
        qkv_bias=True,
        qk_scale=None,
        drop_rate=0.,
        attn_drop_rate=0.,
        drop_path_rate=0.3,
        patch_norm=True,
        out_indices=(1, 2, 3),
        convert_weights=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[384, 768, 1536], start_level=0, num_outs=5))
optim_wrapper = dict(
    constructor='TrainableOptimWrapperConstructor',
    paramwise_cfg=dict(
        custom_keys={
            'absolute_pos_embed': dict(decay_mult=0.),
            'relative_position_bias_table': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.)
        }),
    optimizer=dict(
        _delete_=True,
        type='AdamW',
        lr=0.0001,
        betas=(0.9, 0.999),
        weight_decay=0.05))
custom_hooks = [dict(type='TrainableParamsHook'), dict(type='EfficiencyHook')]
