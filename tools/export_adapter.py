"""Export what fine-tuning changed in a checkpoint as an adapter file.

    python tools/export_adapter.py CONFIG CHECKPOINT OUT_DIR \
        [--cfg-options k=v ...]

CHECKPOINT is a full or adapter-only checkpoint of CONFIG's model (an
adapter-only one gets its frozen Swin from ``model.backbone.init_cfg``,
checked against the fingerprint it records). Writes
``OUT_DIR/adapter.safetensors`` (the backbone's trainable tensors, neck and
heads; no pickle) and ``OUT_DIR/adapter_config.json``. Evaluate it with
``tools/test.py CONFIG OUT_DIR/adapter.safetensors``.
"""
import os.path as osp

from mmdet_e3va import save_adapter
from mmdet_e3va.adapter_files import (ADAPTER_FILE, config_checkpoint_parser,
                                      model_from_args)


def main():
    parser = config_checkpoint_parser(
        __doc__.splitlines()[0], 'a full or adapter-only checkpoint (.pth)')
    parser.add_argument('out_dir', help='where the adapter files go')
    args = parser.parse_args()
    cfg, model, checkpoint = model_from_args(args)
    config = save_adapter(model, args.out_dir, cfg,
                          checkpoint.get('meta', {}).get('dataset_meta'))
    size = osp.getsize(osp.join(args.out_dir, ADAPTER_FILE))
    source = osp.getsize(args.checkpoint)
    base = config['base_checkpoint']
    print(f'{osp.join(args.out_dir, ADAPTER_FILE)}: {size / 2**20:.2f} MiB '
          f'({100 * size / source:.1f}% of {args.checkpoint}, '
          f'{source / 2**20:.2f} MiB); {config["tuning"]["type"]} on '
          + (f'base {base["checkpoint"]} (fingerprint '
             f'{base["fingerprint"][:12]}...)' if base else
             'no frozen base (the whole backbone trains)'))


if __name__ == '__main__':
    main()
