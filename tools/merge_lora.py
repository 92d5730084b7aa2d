"""Fold a tuned Swin into a plain upstream ``SwinTransformer`` checkpoint.

    python tools/merge_lora.py CONFIG CHECKPOINT OUT_FILE \
        [--cfg-options k=v ...]

Writes OUT_FILE: ``state_dict`` (the Swin under upstream key names with the
update merged into its weights, plus neck and heads) and ``meta`` (the
upstream backbone config to use, the source, ``dataset_meta``): tensors
and plain Python only, so ``torch.load(..., weights_only=True)`` reads it
and an unmodified MMDetection/MMSegmentation config with
``backbone=dict(type='SwinTransformer', ...)`` loads it as ``load_from``,
without this project.

Foldable methods: LoRA (``scaling * B A`` added to the frozen linears), and
the methods that only choose which Swin weights train (Full, FullExcept,
Frozen, BitFit, LNTune, Partial), whose Swin already is an upstream one.
Adapter methods (E3VA, Adapter, AdaptFormer, LoRand, Mona) put a
nonlinearity between their projections and cannot be folded.
"""
from collections import OrderedDict

import torch

from mmdet_e3va.adapter_files import (config_checkpoint_parser,
                                      model_from_args, tuned_backbone)

TUNING_PREFIX = 'backbone.tuning'
# Tuned-Swin arguments an upstream SwinTransformer config does not take
# (mmseg's has no ``convert_weights``; the merged weights need none).
NOT_UPSTREAM_ARGS = ('type', 'tuning', 'init_cfg', 'convert_weights')


@torch.no_grad()
def merged_state_dict(model):
    """``model``'s state dict with its tuned Swin folded into upstream
    ``SwinTransformer`` weights and its ``backbone.tuning.*`` entries
    dropped; merges a LoRA update in place (once: a model whose
    ``tuning.merged`` is set is taken as it is).

    Raises:
        ValueError: the tuning method has modules that cannot be folded.
    """
    backbone = tuned_backbone(model)
    tuning = backbone.tuning
    if hasattr(tuning, 'merge'):
        if not bool(tuning.merged):
            tuning.merge(backbone)
    elif tuning.state_dict():
        modules = sorted({k.split('.')[0] for k in tuning.state_dict()})
        raise ValueError(
            f'{type(tuning).__name__} cannot be folded into Swin weights: '
            f'its modules ({", ".join(modules)}) add a nonlinear path beside '
            f'the frozen blocks; only LoRA and the methods that train Swin '
            f'weights fold')
    state = model.state_dict()
    merged = OrderedDict((k, v) for k, v in state.items()
                         if not k.startswith(TUNING_PREFIX + '.'))
    merged._metadata = OrderedDict(
        (k, dict(v)) for k, v in state._metadata.items()
        if k != TUNING_PREFIX and not k.startswith(TUNING_PREFIX + '.'))
    return merged


def upstream_backbone_cfg(backbone_cfg):
    """The ``dict(type='SwinTransformer', ...)`` equivalent of a tuned
    Swin config (plain Python)."""
    args = {k: v for k, v in backbone_cfg.to_dict().items()
            if k not in NOT_UPSTREAM_ARGS}
    return dict(type='SwinTransformer', **args)


def main():
    parser = config_checkpoint_parser(
        __doc__.splitlines()[0], 'a full or adapter-only checkpoint, or an '
        'adapter .safetensors')
    parser.add_argument('out_file', help='the merged checkpoint (.pth)')
    args = parser.parse_args()
    cfg, model, checkpoint = model_from_args(args)
    backbone = upstream_backbone_cfg(cfg.model.backbone)
    meta = dict(backbone=backbone, merged_from=args.checkpoint,
                tuning=cfg.model.backbone.to_dict().get('tuning'))
    dataset_meta = checkpoint.get('meta', {}).get('dataset_meta')
    if dataset_meta is not None:
        meta['dataset_meta'] = dataset_meta
    torch.save(dict(state_dict=merged_state_dict(model), meta=meta),
               args.out_file)
    print(f'{args.out_file}: evaluate it without mmdet_e3va with '
          f'model.backbone = {backbone} and load_from={args.out_file}')


if __name__ == '__main__':
    main()
