# Swin-T (IN-1K pretrained): the UperNet ADE20K base as it is, with MMSegmentation's converted
# checkpoint.
_base_ = './upernet_swin_ade20k.py'
