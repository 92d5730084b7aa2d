"""Stacked bars of the peak training memory's breakdown per method."""
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

MB = 2**20
# Bar segments, bottom to top: (label, breakdown keys summed, colour).
SEGMENTS = (
    ('parameters', ('parameters', ), 'darkgreen'),
    ('optimizer state', ('optimizer_state', ), 'goldenrod'),
    ('gradients', ('gradients', ), 'mediumblue'),
    ('activations', ('activations', ), 'red'),
    ('temporaries', ('temporaries', ), 'mediumpurple'),
    ('inputs, autograd detail, unattributed',
     ('inputs', 'autograd_detail', 'unattributed'), 'grey'),
)


def plot_memory_breakdown(rows, path, limit_bytes=None):
    """One panel per config, one bar per method (``row['method']``): its
    ``memory_breakdown`` stacked (MiB), the measured peak
    (``training_memory_bytes``) written on top. ``limit_bytes`` draws a
    dashed line (e.g. a GPU's memory). Writes a PNG to ``path``."""
    configs = list(dict.fromkeys(r['config_name'] for r in rows))
    fig, axes = plt.subplots(
        1, len(configs), squeeze=False,
        figsize=(max(6, 1.3 * len(rows) + 4), 5.5))
    for ax, config in zip(axes[0], configs):
        group = [r for r in rows if r['config_name'] == config]
        names = [r['method'] for r in group]
        bottom = [0.0] * len(group)
        for label, keys, colour in SEGMENTS:
            heights = [sum(r['memory_breakdown'][k] for k in keys) / MB
                       for r in group]
            ax.bar(names, heights, bottom=bottom, color=colour, label=label)
            bottom = [b + h for b, h in zip(bottom, heights)]
        for x, r in enumerate(group):
            ax.annotate(f'{r["training_memory_bytes"] / MB:.0f}',
                        (x, r['training_memory_bytes'] / MB),
                        ha='center', va='bottom', fontsize=8)
        if limit_bytes:
            ax.axhline(limit_bytes / MB, color='black', linestyle='--',
                       linewidth=1, label=f'{limit_bytes / 2**30:g} GiB')
        ax.set_title(config, fontsize=9)
        ax.set_ylabel('peak training memory (MiB)')
        ax.tick_params(axis='x', labelrotation=30, labelsize=8)
    axes[0][-1].legend(fontsize=7, loc='upper left', bbox_to_anchor=(1, 1))
    fig.suptitle('Peak training memory per method, split at the peak')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
