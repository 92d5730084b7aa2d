# UperNet, Swin-L (IN-22K pretrained, mmseg-converted weights), ADE20K 512x512: MMSegmentation's
# config (160k iterations, AdamW lr 6e-5 wd 0.01, poly schedule with a 1,500-iteration
# warm-up) with a tuned Swin; the tuning method comes from the method config.
_base_ = [
    'mmseg::swin/swin-large-patch4-window7-in22k-pre_upernet_8xb2-160k_ade20k-512x512.py',
    '../../_base_/tuned_swin_runtime.py'
]
model = dict(backbone=dict(type='TunedSwinTransformer'))
optim_wrapper = dict(constructor='TrainableOptimWrapperConstructor')
auto_scale_lr = dict(enable=False, base_batch_size=16)
# Checkpoints written to a temporary file and renamed into place.
default_hooks = dict(checkpoint=dict(type='CrashSafeCheckpointHook'))
