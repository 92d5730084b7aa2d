# UperNet with a tuned Swin (TunedSwinTransformer), ADE20K 512x512:
# MMSegmentation's Swin config (160k iterations, AdamW lr 6e-5 wd 0.01, poly
# schedule with a 1,500-iteration warm-up), of Swin-T size; the size files
# beside this one change the Swin and its checkpoint, the method config the
# tuning method.
_base_ = [
    'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py',  # noqa
    '../../_base_/tuned_swin_runtime.py'
]
model = dict(backbone=dict(type='TunedSwinTransformer'))
optim_wrapper = dict(constructor='TrainableOptimWrapperConstructor')
auto_scale_lr = dict(enable=False, base_batch_size=16)
# Checkpoints written to a temporary file and renamed into place.
default_hooks = dict(checkpoint=dict(type='CrashSafeCheckpointHook'))
