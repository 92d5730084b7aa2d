"""Pretrain the tiny Swin of a demo config on synthetic shape recognition
and save it as an upstream-format Swin checkpoint (the stand-in for the
official ImageNet weights, which cannot be downloaded here).

The Swin architecture comes from the config's ``model.backbone`` (only the
arguments upstream ``SwinTransformer`` takes); the checkpoint path is its
``init_cfg.checkpoint`` unless ``--out`` is given. Tasks (``--task``):
``dense`` recognition, the class (shape or background) of every 4x4 patch,
predicted from the sum of linear projections of all stage outputs; or
image-level multi-label ``classification``, which shapes and background an
image shows, from the average-pooled last stage (as ImageNet pretraining:
no dense supervision).
"""
import argparse
import datetime
import inspect
import os
import os.path as osp
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.backbones import SwinTransformer
from mmengine.config import Config

from mmdet_e3va.utils import int_at_least

import sys
# The repository root, for tools.*
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # noqa: E402
from tools.scenes.study_scenes import SOURCE_SCENES
from tools.scenes.synthetic_scenes import DEMO_SCENES

SCENES = dict(demo=DEMO_SCENES, study_source=SOURCE_SCENES)

MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)


def swin_kwargs(backbone_cfg):
    """The upstream ``SwinTransformer`` arguments of a backbone config."""
    accepted = set(inspect.signature(SwinTransformer).parameters)
    return {k: v for k, v in backbone_cfg.items()
            if k in accepted and k not in ('init_cfg', 'pretrained')}


def make_batch(rng, batch_size, size, family=DEMO_SCENES):
    """Normalised RGB images ``(B, 3, size, size)`` of ``family``'s scenes
    and per-pixel classes ``(B, size, size)``: shape index, or number of
    shapes + background index."""
    images, labels = [], []
    for _ in range(batch_size):
        img, instances, background = family.render(rng, size)
        label = np.full((size, size), len(family.classes) + background)
        for cls, mask in instances:
            label[mask] = cls
        images.append(torch.from_numpy(img[..., ::-1].copy()))  # to RGB
        labels.append(torch.from_numpy(label))
    x = torch.stack(images).permute(0, 3, 1, 2).float()
    return (x - MEAN) / STD, torch.stack(labels)


def dense_logits(backbone, heads, x):
    """Sum of per-stage 1x1 projections, upsampled to stage 0's size."""
    feats = backbone(x)
    size = feats[0].shape[2:]
    return sum(
        F.interpolate(head(f), size=size, mode='bilinear')
        for head, f in zip(heads, feats))


def presence_logits(backbone, head, x):
    """``(B, K)`` label logits from the average-pooled last stage."""
    return head(backbone(x)[-1].mean((2, 3)))


def label_presence(labels, num_labels):
    """``(B, K)`` float: which of the ``num_labels`` labels each image of
    ``labels`` ``(B, H, W)`` shows."""
    present = torch.zeros(labels.shape[0], num_labels)
    return present.scatter_(1, labels.flatten(1), 1.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config')
    parser.add_argument('--out', help='checkpoint path')
    parser.add_argument('--iters', type=int_at_least(1), default=300)
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--size', type=int, default=128)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--log-interval', type=int, default=20,
                        help='print loss, accuracy (pixel or label) and ETA '
                        'every N iterations')
    parser.add_argument('--scenes', default='demo', choices=sorted(SCENES),
                        help='scene distribution: the demo\'s, or the '
                        'mini-study\'s richer source scenes')
    parser.add_argument('--task', default='dense',
                        choices=('dense', 'classification'),
                        help='per-patch labels from every stage, or '
                        'image-level labels from the last stage')
    args = parser.parse_args()

    backbone_cfg = Config.fromfile(args.config).model.backbone
    family = SCENES[args.scenes]
    out = args.out or backbone_cfg.init_cfg.checkpoint
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    backbone = SwinTransformer(**swin_kwargs(backbone_cfg))
    backbone.init_weights()
    num_labels = len(family.classes) + len(family.backgrounds)
    if args.task == 'dense':
        heads = nn.ModuleList(
            nn.Conv2d(backbone.num_features[i], num_labels, 1)
            for i in backbone.out_indices)
    else:
        heads = nn.Linear(backbone.num_features[backbone.out_indices[-1]],
                          num_labels)
    params = list(backbone.parameters()) + list(heads.parameters())
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.05)
    # OneCycleLR divides by its warm-up length, pct_start * iters - 1 steps:
    # zero for 10% of 10 iterations, which therefore warm up for 15%.
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, args.lr, total_steps=args.iters,
        pct_start=0.15 if args.iters == 10 else 0.1)
    start = time.time()
    for it in range(1, args.iters + 1):
        x, labels = make_batch(rng, args.batch_size, args.size, family)
        if args.task == 'dense':
            logits = dense_logits(backbone, heads, x)
            labels = labels[:, None].float()
            labels = F.interpolate(labels,
                                   size=logits.shape[2:])[:, 0].long()
            loss = F.cross_entropy(logits, labels)
            acc = (logits.argmax(1) == labels).float().mean()
        else:
            logits = presence_logits(backbone, heads, x)
            labels = label_presence(labels, num_labels)
            loss = F.binary_cross_entropy_with_logits(logits, labels)
            acc = ((logits > 0).float() == labels).float().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        if it % args.log_interval == 0 or it == args.iters:
            elapsed = time.time() - start
            eta = datetime.timedelta(
                seconds=round(elapsed / it * (args.iters - it)))
            print(f'pretrain iter {it}/{args.iters} loss {loss.item():.3f} '
                  f'{args.task} acc {acc.item():.2f} ({elapsed:.0f}s, '
                  f'eta {eta})', flush=True)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    torch.save(dict(state_dict=backbone.state_dict(),
                    meta=dict(task='synthetic shape recognition, '
                              f'{args.task}', iters=args.iters)), out)
    print(f'upstream-format Swin checkpoint saved to {out}')


if __name__ == '__main__':
    main()
