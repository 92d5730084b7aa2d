# E3VA+ UperNet, Swin-L (IN-22K pretrained), ADE20K 512x512, 160k iterations.
# Beyond the paper: E3VA plus adapter depthwise convs, per-stage rank and a highway adapter per
# stage (README "E3VA+"); the E3VA paper reports E3VA at mIoU 49.64.
# Assumes 8 GPUs x 2 images (16 in all). For N GPUs x M images pass --auto-scale-lr:
# the lr is scaled by N*M/16 (auto_scale_lr.base_batch_size = 16).
# The heads use SyncBN: non-distributed runs (one GPU, CPU) switch it to BN automatically
# (mmengine), and so do CPU distributed runs (mmdet_e3va DeviceAwareDistributedDataParallel).
_base_ = './upernet_swin-l-p4-w7-e3va_8xb2-160k_ade20k-512x512.py'
model = dict(backbone=dict(tuning=dict(
    _delete_=True, type='E3VAPlus', rank=(20, 20, 20, 40), dwconv=True, gate=False,
    tap_input=False, highway_mix=True)))
