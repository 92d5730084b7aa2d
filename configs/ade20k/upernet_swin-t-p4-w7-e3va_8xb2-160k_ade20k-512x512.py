# E3VA UperNet, Swin-T (IN-1K pretrained, mmseg-converted weights), ADE20K 512x512,
# 160k iterations, AdamW lr 6e-5 wd 0.01, poly schedule with 1,500-iteration warm-up.
# Paper: not reported for Swin-T (the E3VA paper reports ADE20K for Swin-L).
# Assumes 8 GPUs x 2 images (16 in all). For N GPUs x M images pass --auto-scale-lr:
# the lr is scaled by N*M/16 (auto_scale_lr.base_batch_size = 16).
# The heads use SyncBN: non-distributed runs (one GPU, CPU) switch it to BN automatically
# (mmengine), and so do CPU distributed runs (mmdet_e3va DeviceAwareDistributedDataParallel).
_base_ = 'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'
custom_imports = dict(imports=['mmdet_e3va'], allow_failed_imports=False)
model = dict(backbone=dict(type='TunedSwinTransformer', tuning=dict(type='E3VA')))
auto_scale_lr = dict(enable=False, base_batch_size=16)
custom_hooks = [dict(type='TrainableParamsHook'), dict(type='EfficiencyHook')]
# One log line for the frozen parameters the optimizer leaves out.
optim_wrapper = dict(constructor='TrainableOptimWrapperConstructor')
