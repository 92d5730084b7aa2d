"""tools/analysis/count_params.py over the paper configs lands on the E3VA
paper's trainable backbone parameters: COCO Swin-B and VOC/ADE20K Swin-L
(the paper's COCO and VOC columns), within 3% or for a documented reason.
Counting only (meta-device models, no forward)."""
import json

from conftest import ROOT, run_tool

# The paper's trainable backbone parameters (M): Swin-B (COCO column) and
# Swin-L (VOC column; ADE20K uses the same Swin-L).
PAPER = {
    'full': (86.75, 198.58),
    'frozen': (0, 0),
    'bitfit': (0.20, 0.30),
    'lntune': (0.06, 0.09),
    'partial1': (12.60, 28.34),
    'adapter': (3.11, 4.66),
    'lora': (3.03, 4.57),
    'adaptformer': (3.11, 4.66),
    'lorand': (1.20, 1.31),
    'e3va': (1.20, 1.79),
}
TOLERANCE = 0.03
# (method, size): (what count_params gives, M; why it is not the paper's).
REASONS = {
    ('lorand', 'L'): (
        1.79, "LoRand's own setting (2 branches of rank 8, bottleneck C/2) "
        'gives the paper\'s Swin-B 1.20 M; with 24 blocks in both, the '
        "paper's 1.20 M / 1.31 M pair needs ~18 parameters per channel and "
        '~41 k per block, which among LoRand adapters (1-8 branches, rank '
        '1-64, bottleneck C/16-C or fixed, shared or separate kernels, '
        'biases or not, 1-2 per block) only a fixed width of 1,536-3,072 '
        '(wider than every Swin-B stage: no bottleneck) reaches'),
}
CONFIGS = {
    'B': 'configs/coco/cascade-mask-rcnn_swin-b-p4-w7-{}_fpn_ms-crop-3x_coco.py',
    'L': ('configs/voc/retinanet_swin-l-p4-w7-{}_fpn_1x_voc0712.py',
          'configs/ade20k/upernet_swin-l-p4-w7-{}_8xb2-160k_ade20k-512x512.py'),
}


def paper_configs():
    """``[(config path, method, size)]`` for every paper row."""
    rows = []
    for method in PAPER:
        rows.append((ROOT / CONFIGS['B'].format(method), method, 'B'))
        rows += [(ROOT / pattern.format(method), method, 'L')
                 for pattern in CONFIGS['L']]
    return rows


def test_paper_configs_match_the_papers_parameter_counts(tmp_path):
    configs = paper_configs()
    out_json = tmp_path / 'counts.json'
    out = run_tool('analysis/count_params.py', *[c for c, _, _ in configs],
                   '--json', out_json, cwd=tmp_path)
    rows = json.loads(out_json.read_text())
    assert [r['config'] for r in rows] == [c.stem for c, _, _ in configs]
    table = [line for line in out.splitlines()
             if line.startswith('| ') and '| method |' not in line]
    assert len(table) == len(rows)
    failures = []
    for (config, method, size), row in zip(configs, rows):
        count = row['counts']['backbone']['trainable'] / 1e6
        paper = PAPER[method][size == 'L']
        target, tolerance = paper, TOLERANCE
        if (method, size) in REASONS:  # the documented count instead
            target, tolerance = REASONS[method, size][0], 0.01
        if abs(count - target) > tolerance * max(target, 1e-9):
            failures.append(f'{config.name}: {count:.3f} M, paper {paper} M')
    assert not failures, '\n'.join(failures)
    # Rows name the tuning with the options that set the paper's budget.
    assert "| LoRA(rank=64, alpha=1, targets=('q', 'v')) | 3.08 M |" in out
    assert "| AdaptFormer(branches=('attn', 'mlp')) | 4.66 M |" in out
    assert '| BitFit(position_bias_tables=True) | 0.30 M |' in out

