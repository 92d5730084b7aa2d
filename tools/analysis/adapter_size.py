"""Size of the adapter file (``adapter.safetensors``) against the full
checkpoint, for configs' models, without pretrained weights.

    python tools/analysis/adapter_size.py [CONFIG ...] \
        [--json docs/benchmarks/adapter_size.json]

Default configs: E3VA on Swin-B and Swin-L, COCO and ADE20K paper configs.
Each model is built on the meta device; only the tensors an adapter file
holds are materialised (zeros: the file size does not depend on values)
and written with :func:`mmdet_e3va.adapter_files.write_adapter_files`,
timed, and read back through the checkpoint loader. The full checkpoint's
bytes are those of all parameters and buffers (what a full ``.pth`` stores,
without its pickle overhead and optimizer state).
"""
import argparse
import json
import os.path as osp
import sys
import tempfile
import time
from pathlib import Path

import safetensors
import torch
import torch.nn as nn
from mmengine.runner.checkpoint import CheckpointLoader

# The repository root, for tools.*
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tools.benchmark import build_model, load_config  # noqa: E402
from tools.benchmark.model_configs import tuning_spec  # noqa: E402

from mmdet_e3va.adapter_files import (ADAPTER_FILE,  # noqa: E402
                                      adapter_state_dict, tuned_backbone,
                                      write_adapter_files)

DEFAULT_CONFIGS = sorted(
    str(p.relative_to(ROOT)) for pattern in (
        'configs/coco/*swin-[bl]-*-e3va_*.py',
        'configs/ade20k/*swin-[bl]-*-e3va_*.py') for p in ROOT.glob(pattern))


def _bytes(tensors):
    return sum(t.numel() * t.element_size() for t in tensors)


def materialise_adapter(model):
    """Replace the meta parameters that :func:`adapter_state_dict` keeps by
    zero CPU tensors of their shape and dtype (the frozen Swin stays on the
    meta device)."""
    keep = set(adapter_state_dict(model))
    for prefix, module in model.named_modules():
        for name, param in module.named_parameters(recurse=False):
            full = f'{prefix}.{name}' if prefix else name
            if full in keep and param.is_meta:
                module._parameters[name] = nn.Parameter(
                    torch.zeros(param.shape, dtype=param.dtype),
                    param.requires_grad)


def measure(config, repeats=3):
    """One row: the adapter file's bytes (and its backbone part), the full
    checkpoint's bytes, and the best of ``repeats`` save times (write the
    files) and load times (read the file through the checkpoint loader and
    copy every tensor into the model)."""
    cfg = load_config(config)
    model = build_model(cfg, empty_weights=True)
    materialise_adapter(model)
    backbone = tuned_backbone(model)
    state = model.state_dict()
    full = _bytes(state.values())
    backbone_trainable = _bytes(
        p for p in backbone.parameters() if p.requires_grad)
    checkpoint = backbone.init_cfg['checkpoint']
    base = dict(checkpoint=checkpoint, resolved=checkpoint,
                fingerprint='0' * 64, dtypes={})  # a sha256's length
    saves, loads = [], []
    with tempfile.TemporaryDirectory() as out_dir:
        path = osp.join(out_dir, ADAPTER_FILE)
        for _ in range(repeats):
            start = time.perf_counter()
            write_adapter_files(model, out_dir, cfg, base)
            saves.append(time.perf_counter() - start)
            start = time.perf_counter()
            loaded = CheckpointLoader.load_checkpoint(path)['state_dict']
            for key, value in loaded.items():  # what load_state_dict does
                state[key].copy_(value)
            loads.append(time.perf_counter() - start)
        size = osp.getsize(path)
    return dict(
        config=Path(config).stem, method=tuning_spec(cfg),
        adapter_file_bytes=size, backbone_trainable_bytes=backbone_trainable,
        full_checkpoint_bytes=full, adapter_share=size / full,
        save_s=min(saves), load_s=min(loads))


def format_table(rows):
    mib = 2**20
    lines = [
        '| config | adapter file | of which backbone | full checkpoint | '
        'share | save | load |', '|---|---:|---:|---:|---:|---:|---:|'
    ]
    for row in rows:
        lines.append(
            f'| {row["config"]} | {row["adapter_file_bytes"] / mib:.1f} MiB '
            f'| {row["backbone_trainable_bytes"] / mib:.2f} MiB | '
            f'{row["full_checkpoint_bytes"] / mib:.1f} MiB | '
            f'{100 * row["adapter_share"]:.1f}% | {row["save_s"]:.2f} s | '
            f'{row["load_s"]:.2f} s |')
    return '\n'.join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='*', metavar='CONFIG',
                        default=DEFAULT_CONFIGS)
    parser.add_argument('--json', help='write the rows to this JSON file')
    parser.add_argument('--repeats', type=int, default=3,
                        help='timed saves and loads per config (best kept)')
    args = parser.parse_args()
    if not args.configs:
        parser.error('no CONFIG given and no E3VA Swin-B/L paper config '
                     'found under configs/coco or configs/ade20k')
    rows = [measure(config, args.repeats) for config in args.configs]
    print(format_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(dict(
            torch=torch.__version__, safetensors=safetensors.__version__,
            command=' '.join(['python', 'tools/analysis/adapter_size.py']
                             + sys.argv[1:]), rows=rows), indent=1) + '\n')
        print(f'rows written to {args.json}')


if __name__ == '__main__':
    main()
