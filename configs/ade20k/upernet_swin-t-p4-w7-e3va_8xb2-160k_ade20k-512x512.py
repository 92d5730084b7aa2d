# E3VA UperNet, Swin-T (IN-1K pretrained, mmseg-converted weights), ADE20K 512x512,
# 160k iterations, AdamW lr 6e-5 wd 0.01, poly schedule with 1,500-iteration warm-up.
# Paper: not reported for Swin-T (the E3VA paper reports ADE20K for Swin-L).
_base_ = './_base_/upernet_swin-t-p4-w7_8xb2-160k_ade20k-512x512.py'
model = dict(backbone=dict(tuning=dict(type='E3VA')))
