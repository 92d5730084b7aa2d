"""Draw E3VA's gradient highway for one Swin stage (docs/method.md):
the frozen Swin runs without an autograd graph, the adapters read its
(S)W-MSA and MLP outputs, their sum rides the highway, which joins the
frozen features before the trainable output norm and is downsampled by
the frozen PatchMerging as ``PM(x + h) - PM(x)``.

Usage:
    python tools/analysis/draw_highway.py [--out docs/figures/e3va_highway.png]
"""
import argparse
import os
import os.path as osp

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

FROZEN = '#d9d9d9'     # frozen, run under torch.no_grad
TRAINABLE = '#f4a259'  # trainable
HIGHWAY = '#c0392b'    # the highway and the gradient's path
NECK = '#8ecae6'


def box(ax, x, y, w, h, text, color, fontsize=9, bold=False):
    """A rounded box centred at ``(x, y)``; returns its edges."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                boxstyle='round,pad=0.02,rounding_size=0.08',
                                fc=color, ec='black', lw=0.8))
    ax.text(x, y, text, ha='center', va='center', fontsize=fontsize,
            weight='bold' if bold else 'normal')
    return dict(l=x - w / 2, r=x + w / 2, t=y + h / 2, b=y - h / 2)


def arrow(ax, start, end, color='black', style='-|>', lw=1.0, ls='-',
          text=None, text_xy=None, rad=0.0):
    ax.annotate('', xy=end, xytext=start,
                arrowprops=dict(arrowstyle=style, color=color, lw=lw, ls=ls,
                                shrinkA=0, shrinkB=0,
                                connectionstyle=f'arc3,rad={rad}'))
    if text:
        ax.text(*text_xy, text, fontsize=8, color=color, ha='center',
                va='center')


def plus(ax, x, y):
    ax.add_patch(plt.Circle((x, y), 0.16, fc='white', ec=HIGHWAY, lw=1.5))
    ax.text(x, y - 0.01, '+', ha='center', va='center', fontsize=12,
            color=HIGHWAY, weight='bold')


def draw(out):
    fig, ax = plt.subplots(figsize=(11, 11.5))
    ax.set_xlim(0, 11)
    ax.set_ylim(-0.6, 12.4)
    ax.axis('off')
    xs, xa, xh, xo = 2.0, 5.1, 7.4, 9.6  # Swin, adapters, highway, neck

    ax.text(xs, 12.1, 'frozen Swin (torch.no_grad,\nno activations kept)',
            ha='center', fontsize=10, weight='bold')
    ax.text(xa, 12.1, 'dual low-rank adapters\n(trainable)', ha='center',
            fontsize=10, weight='bold')
    ax.text(xh, 12.1, 'gradient highway h\n(autograd graph)', ha='center',
            fontsize=10, weight='bold', color=HIGHWAY)
    ax.text(xo, 12.1, 'to the neck\n(FPN / UperNet)', ha='center',
            fontsize=10, weight='bold')

    inp = box(ax, xs, 11.2, 2.6, 0.5, 'x: patch embedding or\nprevious stage',
              FROZEN, 8)
    box(ax, xh, 11.2, 2.0, 0.5,
        'h = 0 in stage 1, else\nfrom the previous stage', 'white', 8)
    plus_ys = []
    top = inp['b']
    for label, y in (('block 1', 9.6), ('block L', 6.6)):
        ax.add_patch(FancyBboxPatch((xs - 1.45, y - 1.25), 2.9, 2.3,
                                    boxstyle='round,pad=0.02', fc='#f2f2f2',
                                    ec='grey', lw=0.8, ls='--'))
        ax.text(xs - 1.35, y + 0.88, f'Swin {label}', fontsize=8,
                color='grey', ha='left')
        attn = box(ax, xs, y + 0.4, 2.4, 0.5, 'LN -> (S)W-MSA', FROZEN)
        mlp = box(ax, xs, y - 0.7, 2.4, 0.5, 'LN -> MLP', FROZEN)
        arrow(ax, (xs, top), (xs, attn['t']))
        arrow(ax, (xs, attn['b']), (xs, mlp['t']), text='+ residual',
              text_xy=(xs + 0.75, y - 0.13))
        top = mlp['b']
        for branch, name, yy in ((attn, 'attn', y + 0.4),
                                 (mlp, 'mlp', y - 0.7)):
            tap = 'a' if name == 'attn' else 'm'
            ad = box(ax, xa, yy, 2.0, 0.5,
                     f'A_{name}: C->k->d\n-> GELU -> d->k->C', TRAINABLE, 7.5)
            arrow(ax, (branch['r'], yy), (ad['l'], yy), text=f'{tap}_l',
                  text_xy=((branch['r'] + ad['l']) / 2, yy + 0.15))
            plus(ax, xh, yy)
            arrow(ax, (ad['r'], yy), (xh - 0.16, yy), color=HIGHWAY)
            plus_ys.append(yy)
        if label == 'block 1':
            ax.text(xs, 7.95, '...', ha='center', fontsize=14)
            ax.text(xh, 7.95, '...', ha='center', fontsize=14, color=HIGHWAY)
    # The highway line, top to bottom through the plus nodes.
    arrow(ax, (xh, 10.95), (xh, plus_ys[0] + 0.16), color=HIGHWAY, lw=2)
    for y0, y1 in zip(plus_ys, plus_ys[1:]):
        arrow(ax, (xh, y0 - 0.16), (xh, y1 + 0.16), color=HIGHWAY, lw=2)

    # Stage output: frozen x_s plus highway h_s, trainable output norm.
    xs_box = box(ax, xs, 4.55, 2.6, 0.5, 'x_s (frozen stage output)', FROZEN,
                 8)
    arrow(ax, (xs, top), (xs, xs_box['t']))
    plus(ax, xh, 4.55)
    arrow(ax, (xh, plus_ys[-1] - 0.16), (xh, 4.71), color=HIGHWAY, lw=2)
    arrow(ax, (xs_box['r'], 4.55), (xh - 0.16, 4.55), ls='--')
    norm = box(ax, xo, 4.55, 2.3, 0.75, 'norm_s: frozen LN\nwith (w + dw, '
               'b + db)\ndw, db trainable, 0 at init', TRAINABLE, 7.5)
    arrow(ax, (xh + 0.16, 4.55), (norm['l'], 4.55), color=HIGHWAY, lw=2)
    neck = box(ax, xo, 3.3, 1.8, 0.5, 'F_s -> neck', NECK, 9)
    arrow(ax, (xo, norm['b']), (xo, neck['t']))

    # Downsampling between stages with the frozen PatchMerging.
    pm = box(ax, xs, 2.1, 2.6, 0.55,
             'PatchMerging (frozen)\nx_{s+1} = PM(x_s)', FROZEN, 8)
    arrow(ax, (xs, xs_box['b']), (xs, pm['t']))
    pmh = box(ax, xh, 2.1, 2.5, 0.75,
              'h_{s+1} = PM(x_s + h_s) - PM(x_s)\n(same frozen PM; 0 when '
              'h = 0,\ngradient flows through it)', '#f5cccc', 7.5)
    arrow(ax, (xh, 4.39), (xh, pmh['t']), color=HIGHWAY, lw=2)
    arrow(ax, (xs_box['r'] - 0.3, xs_box['b']), (pmh['l'], 2.25), ls='--',
          rad=0.15)
    box(ax, xs, 0.95, 2.6, 0.45, 'next stage (s + 1)', FROZEN, 8)
    arrow(ax, (xs, pm['b']), (xs, 1.18))
    box(ax, xh, 0.95, 2.0, 0.45, 'highway of stage s + 1', 'white', 8)
    arrow(ax, (xh, pmh['b']), (xh, 1.18), color=HIGHWAY, lw=2)

    # Legend.
    ax.text(0.2, 0.0,
            'grey: frozen weights, run under torch.no_grad (nothing saved for '
            'backward)    orange: trainable\n'
            'red: the highway, the only path the gradient takes from the '
            'neck to the adapters    dashed: frozen values read by the '
            'highway (no gradient)',
            fontsize=8, va='center')
    ax.text(0.2, -0.45,
            'Stages after the last out_index get no adapters and are not run.'
            '  Adapters: D1 C->k, D2 k->d, U1 d->k, U2 k->C (k = rank = 20, '
            'd = C/4), U2 = 0 at init.', fontsize=8, va='center')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches='tight')
    print(f'highway diagram saved to {out}')


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--out', default='docs/figures/e3va_highway.png')
    draw(parser.parse_args().out)


if __name__ == '__main__':
    main()
