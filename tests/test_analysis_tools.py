"""tools/analysis/count_params.py and benchmark_efficiency.py: behaviour
(rows, reference ratios, JSON), never timings."""
import json

from conftest import ROOT, run_tool

ADE_T = ROOT / 'configs/ade20k/upernet_swin-t-p4-w7-e3va_8xb2-160k_ade20k-512x512.py'  # noqa: E501
TINY = ('model.backbone.embed_dims=32', 'model.backbone.depths=[2,2,2,2]',
        'model.backbone.num_heads=[1,2,4,8]',
        'model.decode_head.in_channels=[32,64,128,256]',
        'model.decode_head.channels=32', 'model.auxiliary_head.in_channels=128',
        'model.auxiliary_head.channels=16')


def test_count_params_single_config(tmp_path):
    out = run_tool('analysis/count_params.py', ADE_T, '--cfg-options', *TINY,
                   cwd=tmp_path)
    assert '(E3VA)' in out
    for group in ('backbone', 'neck', 'head', 'all'):
        assert f'{group}: trainable params:' in out


def test_count_params_methods_table(tmp_path):
    out = run_tool('analysis/count_params.py', ADE_T, '--methods', 'Full',
                   'Frozen', 'E3VA', '--cfg-options', *TINY, cwd=tmp_path)
    rows = {line.split('|')[1].strip(): line for line in out.splitlines()
            if line.startswith('| ') and 'method' not in line}
    assert set(rows) == {'Full', 'Frozen', 'E3VA'}
    assert '| 0.00 M | 0.00% |' in rows['Frozen']
    assert '100.00%' in rows['Full']


def test_benchmark_table_and_json(tmp_path):
    out_json = tmp_path / 'bench.json'
    out = run_tool('analysis/benchmark_efficiency.py', ADE_T, '--methods',
                   'E3VA', 'LoRA', '--img-size', 64, '--batch-size', 2,
                   '--warmup', 0, '--iters', 1, '--out', out_json,
                   '--cfg-options', *TINY, cwd=tmp_path)
    rows = [line for line in out.splitlines() if line.startswith('| upernet')]
    assert [r.split('|')[2].strip() for r in rows] == [
        'Full', 'Frozen', 'E3VA', 'LoRA']
    results = json.loads(out_json.read_text())['results']
    by_method = {r['method']: r for r in results}
    full, frozen = by_method['Full'], by_method['Frozen']
    assert full['training_memory_bytes_vs_full'] == 1.0
    assert full['seconds_per_iter_vs_full'] == 1.0
    assert frozen['backbone_time_vs_frozen'] == 1.0
    assert full['memory_saving_efficiency'] == 0.0
    assert frozen['memory_saving_efficiency'] == 1.0
    assert frozen['trainable_params'] < by_method['E3VA']['trainable_params']
    assert by_method['E3VA']['trainable_params'] < full['trainable_params']
    for row in results:
        assert row['seconds_per_iter'] > 0
        assert row['saved_for_backward_bytes'] >= 0
        assert row['training_memory_bytes'] > row['param_bytes'] > 0
    # Without --methods each config is measured as it is (E3VA here).
    out = run_tool('analysis/benchmark_efficiency.py', ADE_T, '--img-size',
                   64, '--batch-size', 2, '--warmup', 0, '--iters', 1,
                   '--out', tmp_path / 'b2.json', '--cfg-options', *TINY,
                   cwd=tmp_path)
    assert [line.split('|')[2].strip() for line in out.splitlines()
            if line.startswith('| upernet')] == ['Full', 'Frozen', 'E3VA']
