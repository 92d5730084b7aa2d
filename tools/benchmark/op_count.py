"""Aten ops and saved-for-backward bytes of a tuned backbone's forward +
backward: deterministic measures of what a tuning method adds to the
frozen pass (no timing).

    python -m tools.benchmark.op_count CONFIG --methods Frozen E3VA \
        E3VA+bf16+tap-int8 ... [--img-size 384 | --img-size H W] \
        [--batch-size 2] [--out docs/benchmarks/ops.json]

Methods take the suffixes of ``tools/analysis/benchmark_efficiency.py``
(:func:`tools.benchmark.model_configs.parse_method`). For each method the
config's model is built (weights as constructed, seed 0) and its backbone
run in train mode on one random ``(B, 3, H, W)`` batch, then
back-propagated from fixed random weights on its outputs (no loss ops).
``forward_ops`` and ``backward_ops`` count the aten ops dispatched, views
(``_unsafe_view`` included) excluded: about one per kernel a GPU launches.
``saved_bytes`` sums the distinct storages autograd saves for backward,
parameters and buffers excluded (tensors that saved-tensor hooks of the
model itself pack are not seen).
"""
import argparse
import collections
import json
import os
import os.path as osp
import sys

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from .model_configs import build_model, method_config


# Ops that make no kernel of their own: views (outputs aliasing an input)
# and ``_unsafe_view`` (a view the schema does not mark as one).
def _is_view(func):
    return func.is_view or func.overloadpacket is torch.ops.aten._unsafe_view


class AtenOpCounter(TorchDispatchMode):
    """Counts the aten ops dispatched while active, by name, views
    excluded."""

    def __init__(self):
        super().__init__()
        self.counts = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if not _is_view(func):
            self.counts[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))

    @property
    def total(self):
        return sum(self.counts.values())


def count_backbone(backbone, batch_size, img_size):
    """Forward + backward of ``backbone`` (train mode) on a random batch of
    ``img_size`` ``(H, W)``: op counts (totals and by op) and the bytes of
    the distinct storages saved for backward."""
    torch.manual_seed(0)
    backbone.train()
    inputs = torch.randn(batch_size, 3, *img_size)
    known = {t.untyped_storage().data_ptr()
             for t in [*backbone.parameters(), *backbone.buffers()]}
    saved = {}

    def pack(tensor):
        ptr = tensor.untyped_storage().data_ptr()
        if ptr not in known:
            saved[ptr] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with AtenOpCounter() as forward:
            outs = backbone(inputs)
    gen = torch.Generator().manual_seed(1)
    grads = [torch.randn(o.shape, generator=gen, dtype=o.dtype) for o in outs]
    with AtenOpCounter() as backward:
        if outs[0].requires_grad:
            torch.autograd.backward(outs, grads)
    return dict(forward_ops=forward.total, backward_ops=backward.total,
                ops=forward.total + backward.total,
                saved_bytes=sum(saved.values()),
                forward_ops_by_name=dict(forward.counts.most_common()),
                backward_ops_by_name=dict(backward.counts.most_common()))


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('config')
    parser.add_argument('--methods', nargs='+', required=True)
    parser.add_argument('--img-size', type=int, nargs='+', default=[384])
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--out')
    args = parser.parse_args()
    if len(args.img_size) not in (1, 2):
        parser.error('--img-size takes S or H W')
    img_size = tuple(args.img_size * (3 - len(args.img_size)))
    rows = []
    for method in args.methods:
        torch.manual_seed(0)
        backbone = build_model(method_config(args.config, method)[0]).backbone
        rows.append(dict(method=method, **count_backbone(
            backbone, args.batch_size, img_size)))
    frozen = next((r for r in rows if r['method'] == 'Frozen'), None)
    print('| method | forward ops | backward ops | ops | ops above Frozen '
          '| saved for backward MiB |\n|---|---:|---:|---:|---:|---:|')
    for r in rows:
        above = r['ops'] - frozen['ops'] if frozen else '-'
        print(f'| {r["method"]} | {r["forward_ops"]} | {r["backward_ops"]} '
              f'| {r["ops"]} | {above} | {r["saved_bytes"] / 2**20:.1f} |')
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(dict(command=' '.join(sys.argv), config=args.config,
                           img_size=img_size,
                           batch_size=args.batch_size,
                           torch=torch.__version__, results=rows), f,
                      indent=2)


if __name__ == '__main__':
    main()
