"""Draw the mini-study's scenes: source scenes (pretraining) and target
scenes (fine-tuning and evaluation), each image above its label map, as
``tools/analysis/mini_study.py`` renders them (current ``SCENES_VERSION``).

Usage:
    python tools/analysis/draw_study_scenes.py [--out docs/study/scenes.png]
"""
import argparse
import os
import os.path as osp

import matplotlib
import numpy as np

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

import sys
# The repository root, for tools.*
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # noqa: E402
from tools.scenes.study_scenes import (SCENES_VERSION,  # noqa: E402
                                              SOURCE_SCENES, TARGET_SCENES)
from mmdet_e3va.utils import int_at_least  # noqa: E402


def label_map(family, instances, background, size):
    """``size x size`` label indices: backgrounds first, then classes."""
    labels = np.full((size, size), background)
    for cls, mask in instances:
        labels[mask] = len(family.backgrounds) + cls
    return labels


def draw(out, num, size, seed):
    families = (('source', SOURCE_SCENES), ('target', TARGET_SCENES))
    fig, axes = plt.subplots(4, num, figsize=(1.6 * num, 7.4))
    for row, (name, family) in enumerate(families):
        rng = np.random.default_rng(seed)
        names = family.backgrounds + family.classes
        cmap = plt.get_cmap('tab20', len(names))
        for col in range(num):
            img, instances, background = family.render(rng, size)
            ax_img, ax_lab = axes[2 * row, col], axes[2 * row + 1, col]
            ax_img.imshow(img[..., ::-1])
            ax_lab.imshow(label_map(family, instances, background, size),
                          cmap=cmap, vmin=-0.5, vmax=len(names) - 0.5,
                          interpolation='nearest')
            for ax in (ax_img, ax_lab):
                ax.set_xticks([])
                ax.set_yticks([])
        axes[2 * row, 0].set_ylabel(
            f'{name} v{SCENES_VERSION[name]}', fontsize=10)
        axes[2 * row + 1, 0].set_ylabel('labels', fontsize=10)
        handles = [Patch(color=cmap(i), label=n) for i, n in enumerate(names)]
        axes[2 * row + 1, num // 2].legend(
            handles=handles, loc='upper center', bbox_to_anchor=(0.5, -0.02),
            ncol=min(len(names), 7), fontsize=7, frameon=False)
    fig.suptitle('Mini-study scenes: pretraining (source) and fine-tuning '
                 f'(target), {size} px; unlabelled clutter in the target '
                 'is background', fontsize=10)
    fig.tight_layout(h_pad=2.2)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default='docs/study/scenes.png')
    parser.add_argument('--num', type=int_at_least(2), default=6,
                        help='scenes per family')
    parser.add_argument('--size', type=int_at_least(32), default=128)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    draw(args.out, args.num, args.size, args.seed)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
