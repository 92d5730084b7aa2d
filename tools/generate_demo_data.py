"""Write the synthetic demo data set (COCO, ADE20K and VOC formats)."""
import argparse

import sys
import os.path as osp
# The repository root, for tools.*
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # noqa: E402
from tools.scenes.synthetic_scenes import generate


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--out-dir', default='data')
    parser.add_argument('--num-train', type=int, default=64)
    parser.add_argument('--num-val', type=int, default=16)
    parser.add_argument('--size', type=int, default=128, help='image side')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--formats', nargs='+',
                        default=['coco', 'ade20k', 'voc'],
                        choices=['coco', 'ade20k', 'voc'])
    args = parser.parse_args()
    generate(args.out_dir, args.num_train, args.num_val, args.size,
             args.seed, tuple(args.formats))
    print(f'synthetic {"/".join(args.formats)} data written to '
          f'{args.out_dir}/')


if __name__ == '__main__':
    main()
