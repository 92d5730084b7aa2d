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


# The benchmark at 64x64 (UperNet's data preprocessor would pad to 512x512).
BENCH = TINY + ('model.data_preprocessor.size=[64,64]', )


def test_benchmark_tables_json_and_plot(tmp_path):
    out_json = tmp_path / 'bench.json'
    out = run_tool('analysis/benchmark_efficiency.py', ADE_T, '--methods',
                   'E3VA', 'LoRA', 'Full+cp+amp', '--img-size',
                   64, '--batch-size', 2, '--warmup', 0, '--iters', 1,
                   '--infer-size', 64, 96, '--infer-iters', 1, '--out',
                   out_json, '--cfg-options', *BENCH, cwd=tmp_path,
                   timeout=1800)
    methods = ['Full', 'Frozen', 'E3VA', 'LoRA', 'Full+cp+amp']
    tables = out.split('\n\n')
    training, breakdown, inference = (
        [line.split('|')[2].strip() for line in table.splitlines()
         if line.startswith('| upernet')] for table in tables[:3])
    assert training == breakdown == methods
    assert inference == methods[:4] + ['LoRA (merged)'] + methods[4:]
    report = json.loads(out_json.read_text())
    assert report['machine']['load_average_at_start']
    by_method = {r['method']: r for r in report['results']}
    full, frozen = by_method['Full'], by_method['Frozen']
    assert full['training_memory_bytes_vs_full'] == 1.0
    assert full['seconds_per_iter_vs_full'] == 1.0
    assert frozen['backbone_time_vs_frozen'] == 1.0
    assert full['memory_saving_efficiency'] == 0.0
    assert frozen['memory_saving_efficiency'] == 1.0
    assert frozen['trainable_params'] < by_method['E3VA']['trainable_params']
    assert by_method['E3VA']['trainable_params'] < full['trainable_params']
    assert by_method['Full+cp+amp']['amp'] and not full['amp']
    for row in report['results']:
        b = row['memory_breakdown']
        assert row['seconds_per_iter'] > 0
        assert row['training_memory_bytes'] > b['parameters'] > 0
        assert b['optimizer_state'] > 0
        assert row['inference']['images_per_s'] > 0
        assert row['inference']['peak_memory_bytes'] > 0
    # Optimizer state (alive all step) follows the trainable parameters;
    # full fine-tuning needs the most memory.
    state = {m: r['memory_breakdown']['optimizer_state']
             for m, r in by_method.items()}
    assert state['Frozen'] < state['E3VA'] < state['Full']
    assert full['training_memory_bytes'] > max(
        frozen['training_memory_bytes'],
        by_method['E3VA']['training_memory_bytes'])
    assert 'merged' in by_method['LoRA']['inference']
    png = out_json.with_name('bench_memory.png')
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert png.stat().st_size > 10_000
    # Without --methods each config is measured as it is (E3VA here).
    args = ('analysis/benchmark_efficiency.py', ADE_T, '--img-size', 64,
            '--batch-size', 2, '--warmup', 0, '--iters', 1, '--infer-iters',
            0, '--out', tmp_path / 'b2.json', '--cfg-options', *BENCH)
    out = run_tool(*args, cwd=tmp_path)
    assert [line.split('|')[2].strip() for line in out.split('\n\n')[0]
            .splitlines() if line.startswith('| upernet')] == [
                'Full', 'Frozen', 'E3VA']
    # Resuming: a recorded measurement is reused where its run settings
    # match (Frozen), not where they differ (E3VA, recorded with 5 steps).
    rows = {r['method']: r for r in json.loads(
        (tmp_path / 'b2.json').read_text())['results']}
    marked = dict(rows['Frozen'], step_times=[111.0])
    stale = dict(rows['E3VA'], step_times=[222.0],
                 run=dict(rows['E3VA']['run'], iters=5))
    (tmp_path / 'b2.json.partial').write_text(json.dumps(dict(
        measurements={f'0|{ADE_T}|Frozen': marked,
                      f'0|{ADE_T}|E3VA': stale})))
    out = run_tool(*args, cwd=tmp_path)
    assert out.count('(recorded)') == 1
    rows = {r['method']: r for r in json.loads(
        (tmp_path / 'b2.json').read_text())['results']}
    assert rows['Frozen']['step_times'] == [111.0]
    assert rows['E3VA']['step_times'] != [222.0]
    assert not (tmp_path / 'b2.json.partial').exists()


def test_benchmark_refuses_bad_methods_and_rounds_up_front(tmp_path):
    """Errors name the flag before anything is measured."""
    import subprocess
    import sys
    script = str(ROOT / 'tools/analysis/benchmark_efficiency.py')
    for args, message in (
            (['--methods', 'E3VA', 'LoRA+bf16'], 'LoRA+bf16'),
            (['--methods', 'E3VA', 'NoSuchMethod'], "'NoSuchMethod' is not"),
            (['--rounds', '0'], '--rounds: must be at least 1')):
        result = subprocess.run(
            [sys.executable, script, str(ADE_T), '--out',
             str(tmp_path / 'b.json'), *args],
            cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert result.returncode != 0 and message in result.stderr, args
        assert 'round 1/' not in result.stderr, args
    assert not list(tmp_path.iterdir())


def test_tap_gradient_error_orders_the_precisions(tmp_path):
    """tools/analysis/tap_gradient_error.py: exact-output check passes, each
    tap_dtype gives a nonzero gradient error, int8 the largest and fp16
    (10 mantissa bits) below bf16 (7)."""
    out_json = tmp_path / 'error.json'
    out = run_tool('analysis/tap_gradient_error.py', '--images', 1,
                   '--out', out_json, cwd=tmp_path, timeout=300)
    assert '| int8 |' in out
    rows = json.loads(out_json.read_text())['rows']
    errors = {k: rows[k]['all_parameters'] for k in ('bf16', 'fp16', 'int8')}
    assert 0 < errors['fp16'] < errors['bf16'] < errors['int8'] < 2e-2
    assert all(r['largest_parameter'] >= r['all_parameters'] / 10
               for r in rows.values())
