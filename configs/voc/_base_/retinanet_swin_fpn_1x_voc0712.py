# RetinaNet + FPN with a tuned Swin (TunedSwinTransformer), Pascal VOC
# detection, the paper's VOC task and detector: VOC07+12 trainval repeated 3x,
# 4 epochs (12 effective), lr step at epoch 3, resize (1000, 600), AdamW;
# tested on VOC2007 test (11-point mAP). Stages 1-3 feed the FPN. The Swin size
# comes from a size file beside this one, the tuning method from the method
# config.
_base_ = [
    'mmdet::pascal_voc/retinanet_r50_fpn_1x_voc0712.py',
    '../../_base_/tuned_swin_runtime.py'
]
model = dict(
    backbone=dict(
        _delete_=True,
        type='TunedSwinTransformer',
        window_size=7,
        mlp_ratio=4,
        qkv_bias=True,
        qk_scale=None,
        drop_rate=0.,
        attn_drop_rate=0.,
        patch_norm=True,
        out_indices=(1, 2, 3),
        convert_weights=True),
    neck=dict(start_level=0, num_outs=5))
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
# Checkpoints written to a temporary file and renamed into place.
default_hooks = dict(checkpoint=dict(type='CrashSafeCheckpointHook'))
