# AdaptFormer UperNet, Swin-L (IN-22K pretrained), ADE20K 512x512, 160k iterations.
# Paper: E3VA paper, Swin-L IN-22K: mIoU 50.83.
# Assumes 8 GPUs x 2 images (16 in all). For N GPUs x M images pass --auto-scale-lr:
# the lr is scaled by N*M/16 (auto_scale_lr.base_batch_size = 16).
# The heads use SyncBN: non-distributed runs (one GPU, CPU) switch it to BN automatically
# (mmengine), and so do CPU distributed runs (mmdet_e3va DeviceAwareDistributedDataParallel).
# Budget (the E3VA paper's): two scaled parallel adapters (d=64, s=0.1) per block, beside the
# attention and the MLP: Swin-L backbone 4.66 M.
_base_ = './upernet_swin-l-p4-w7-e3va_8xb2-160k_ade20k-512x512.py'
model = dict(backbone=dict(
    tuning=dict(_delete_=True, type='AdaptFormer', branches=('attn', 'mlp'))))
