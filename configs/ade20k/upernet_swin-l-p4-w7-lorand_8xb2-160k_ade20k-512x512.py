# LoRand UperNet, Swin-L (IN-22K pretrained), ADE20K 512x512, 160k iterations.
# Paper: E3VA paper, Swin-L IN-22K: mIoU 50.76.
# Assumes 8 GPUs x 2 images (16 in all). For N GPUs x M images pass --auto-scale-lr:
# the lr is scaled by N*M/16 (auto_scale_lr.base_batch_size = 16).
# The heads use SyncBN: non-distributed runs (one GPU, CPU) switch it to BN automatically
# (mmengine), and so do CPU distributed runs (mmdet_e3va DeviceAwareDistributedDataParallel).
# Budget: LoRand's own setting (2 branches of rank 8, bottleneck C/2), Swin-L backbone 1.79 M;
# the paper reports 1.31 M, which no LoRand bottleneck gives together with its Swin-B 1.20 M
# (README, 'Tuning methods').
_base_ = './upernet_swin-l-p4-w7-e3va_8xb2-160k_ade20k-512x512.py'
model = dict(backbone=dict(tuning=dict(_delete_=True, type='LoRand')))
