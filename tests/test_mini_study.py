"""The mini-study: target scenes in real COCO/ADE20K/VOC formats read by the
upstream datasets of the study configs, and the study tool end to end in
--quick mode (real tools/train.py and tools/test.py runs, records, table,
summary and plots), then resumed without running anything again."""
import hashlib
import importlib.util
import json
import multiprocessing
from pathlib import Path

import numpy as np
import pytest
import torch
from mmdet.models.backbones import SwinTransformer
from mmengine.config import Config
from mmengine.registry import init_default_scope

from conftest import ROOT, run_tool
from tools.study import mini_study_calibration as calibration
from tools.study import mini_study_lr_sweep as lr_sweep
from tools.study.mini_study import (CHECKPOINT, COMMITTED_PRETRAINED,
                                            METHODS, PRETRAIN, TASKS,
                                            at_study_width, file_sha1,
                                            learning_curve, prepare_data,
                                            prepare_pretrained, replaced,
                                            replaced_runs,
                                            study_checkpoint_sha1)
from tools.scenes.study_scenes import (SCENES_VERSION, SOURCE_SCENES,
                                              TARGET_CLASSES, TARGET_SCENES,
                                              generate_target)

# Per family and SCENES_VERSION, the first three 64-px scenes drawn from
# default_rng(0): (background, instance classes, mean pixel value). A change
# to what a renderer draws must bump its SCENES_VERSION (the study's
# settings hash) and add its row here.
SCENES_BY_VERSION = dict(
    source={1: [(5, [4, 0, 5, 6], 117.6), (3, [4], 151.0),
                (0, [2, 3], 146.3)]},
    target={1: [(3, [1, 2, 1], 165.3), (1, [2, 2, 2], 113.8),
                (2, [3, 3, 0], 96.3)],
            2: [(3, [1, 2, 0], 163.7), (1, [3], 93.6),
                (1, [1, 2, 0], 115.0)],
            3: [(3, [1, 2, 3, 1, 3, 2], 150.2), (1, [2, 1, 2, 2], 111.9),
                (0, [1, 0, 1, 2, 0], 66.7)]})


@pytest.mark.parametrize('name,family', [('source', SOURCE_SCENES),
                                         ('target', TARGET_SCENES)])
def test_rendered_scenes_are_those_of_their_version(name, family):
    rng = np.random.default_rng(0)
    seen = []
    for _ in range(3):
        img, instances, background = family.render(rng, 64)
        seen.append((background, [c for c, _ in instances],
                     round(float(img.mean()), 1)))
    expected = SCENES_BY_VERSION[name][SCENES_VERSION[name]]
    message = f'the {name} scenes changed: bump SCENES_VERSION ({seen})'
    for (bg, classes, mean), (bg0, classes0, mean0) in zip(seen, expected):
        assert (bg, classes) == (bg0, classes0), message
        assert abs(mean - mean0) <= 0.5, message


def test_methods_at_study_width_spell_out_every_argument():
    lora = at_study_width(dict(type='LoRA', rank=64, alpha=1,
                               targets=('q', 'v')))
    assert (lora['rank'], lora['alpha']) == (16, 0.25)  # alpha/rank kept
    # Defaults are part of the settings (and so of the hash), also those
    # E3VAPlus passes on to E3VA through **kwargs.
    plus = METHODS['E3VAPlus']
    assert plus['rank'] == (5, 5, 5, 10) and plus['highway_mix'] is True
    assert plus['bottleneck_ratio'] == 0.25 and 'frozen_dtype' in plus
    assert METHODS['Adapter']['bottleneck_dims'] == 16
    assert METHODS['Full'] == dict(type='Full')


def test_target_scenes_differ_from_source_and_load_upstream(
        tmp_path, monkeypatch):
    assert not set(TARGET_SCENES.classes) & set(SOURCE_SCENES.classes)
    assert not set(TARGET_SCENES.backgrounds) & set(SOURCE_SCENES.backgrounds)
    rng = np.random.default_rng(0)
    img, instances, _ = TARGET_SCENES.render(rng, 96)
    assert img.shape == (96, 96, 3) and img.dtype == np.uint8 and instances

    generate_target(str(tmp_path / 'data'), num_train=6, num_val=4, size=64,
                    seed=0)
    monkeypatch.chdir(tmp_path)
    for task, scope in (('det', 'mmdet'), ('voc', 'mmdet'), ('seg', 'mmseg')):
        cfg = Config.fromfile(ROOT / TASKS[task]['config'])
        init_default_scope(scope)
        if scope == 'mmdet':
            from mmdet.registry import DATASETS
        else:
            from mmseg.registry import DATASETS
        for loader, num in (('train_dataloader', 6), ('val_dataloader', 4)):
            dataset = DATASETS.build(cfg[loader].dataset)
            assert len(dataset) == num, (task, loader)
            sample = dataset[0]['data_samples']
            if scope == 'mmdet':
                assert dataset.metainfo['classes'] == TARGET_CLASSES
                assert len(sample.gt_instances) > 0
            else:
                labels = set(np.unique(sample.gt_sem_seg.data.numpy()))
                names = {dataset.metainfo['classes'][i] for i in labels
                         if i != 255}
                assert names <= set(TARGET_SCENES.classes +
                                    TARGET_SCENES.backgrounds)


def _prepare_data_together(barrier, out, data, said):
    barrier.wait()
    prepare_data(out, data, said.put)


def _file_digests(folder):
    return {p.relative_to(folder): file_sha1(p)
            for p in folder.rglob('*') if p.is_file()}


def test_studies_started_together_write_the_scenes_once(tmp_path):
    """Two studies starting at the same moment (two processes): one writes
    the target scenes, the other waits for the lock and finds them stamped,
    so the scenes equal those of a lone generation, file for file."""
    data = dict(num_train=6, num_val=3, size=64, seed=0,
                version=SCENES_VERSION['target'])
    context = multiprocessing.get_context('fork')
    barrier, said = context.Barrier(2), context.Queue()
    out = tmp_path / 'data'
    studies = [context.Process(target=_prepare_data_together,
                               args=(barrier, str(out), data, said))
               for _ in range(2)]
    for study in studies:
        study.start()
    for study in studies:
        study.join(timeout=120)
        assert study.exitcode == 0
    lines = [said.get(timeout=5) for _ in range(said.qsize())]
    assert lines == [f'writing the target scenes {data} to {out}/']

    generate_target(str(tmp_path / 'lone'), 6, 3, 64, 0)
    written = _file_digests(out)
    assert written.pop(Path('spec.json'))
    assert written == _file_digests(tmp_path / 'lone')


def test_quick_study_runs_then_resumes(tmp_path):
    root, results = tmp_path / 'root', tmp_path / 'out' / 'results.json'
    args = ('--quick', '--root', root, '--results', results, '--threads', 1)
    output = run_tool('analysis/mini_study.py', *args, cwd=ROOT)
    # The lr sweep: seed 0 of each method at both of its multipliers.
    assert '4 runs to run now, 0 waiting' in output
    assert '[4/4] seg E3VA seed 0 (adapters x5):' in output
    records = json.loads(results.read_text())['records']
    assert sorted((r['method'], lr_sweep.describe(r['method'], r['settings']))
                  for r in records.values()) == [
        ('E3VA', 'adapters x1'), ('E3VA', 'adapters x5'),
        ('Full', 'Swin x0.1'), ('Full', 'Swin x1')]
    for record in records.values():
        assert 0 <= record['metrics']['mIoU'] <= 100
        assert 0 <= record['select_metrics']['mIoU'] <= 100
        assert record['memory_mb'] > 0 and record['step_time_s'] > 0
        assert record['cpu_s_per_iter'] > 0 and record['machine']['hostname']
        assert record['pretrained_sha1'] == hashlib.sha1(
            (root / CHECKPOINT).read_bytes()).hexdigest()
        assert (record['machine']['cpu_capability'] ==
                torch.backends.cpu.get_cpu_capability())
        # mmseg's table: the classes in the ground truth or predicted.
        per_class = record['per_class_iou']
        assert set(per_class) & set(TARGET_SCENES.classes +
                                    TARGET_SCENES.backgrounds)
        assert all(0 <= v <= 100 for v in per_class.values())
    # The selection split: the val split's layout, other scenes.
    ade = 'ade/ADEChallengeData2016/images/validation'
    val = sorted((root / 'data' / ade).iterdir())
    select = sorted((root / 'data/select/seg' / ade).iterdir())
    assert [p.name for p in select] == [p.name for p in val]
    assert all(a.read_bytes() != b.read_bytes() for a, b in zip(val, select))
    by_lr = {lr_sweep.describe(r['method'], r['settings']): r
             for r in records.values()}
    full, e3va = by_lr['Swin x0.1'], by_lr['adapters x1']
    assert full['params']['backbone_share'] == 1.0
    assert 0 < e3va['params']['backbone_share'] < 0.1
    assert e3va['memory_mb'] < full['memory_mb']
    e3va_x5 = by_lr['adapters x5']
    e3va_dir = root / f"runs/seg/E3VA_seed0_{e3va_x5['hash']}"
    assert 'lr x5 for' in (e3va_dir / 'train.log').read_text()
    out_dir = results.parent
    table = (out_dir / 'table.md').read_text()
    assert 'mIoU' in table and table.count('| selected |') == 2
    assert '| seg | E3VA | adapters x5 |' in table
    # The table's runs: each method's multiplier with the better selection
    # metric (the default on a tie).
    summary = json.loads((out_dir / 'summary.json').read_text())
    for method in ('Full', 'E3VA'):
        runs = sorted((r for r in records.values() if r['method'] == method),
                      key=lambda r: by_lr.get('Swin x0.1') is not r and
                      by_lr.get('adapters x1') is not r)  # default first
        best = max(runs, key=lambda r: r['select_metrics']['mIoU'])
        lr = lr_sweep.describe(method, best['settings'])
        row = next(line for line in table.splitlines()
                   if line.startswith(f'| {method} |'))
        assert f'| {lr} |' in row
        assert summary['summary']['seg'][method]['metrics']['mIoU'][
            'values'] == [best['metrics']['mIoU']]
        assert summary['lr_sweep']['seg'][method]['complete']
    for png in ('accuracy_vs_memory.png', 'memory_time.png'):
        assert (out_dir / png).read_bytes()[:4] == b'\x89PNG'
    # The trained E3VA run: its adapters moved the features at every stage.
    run_tool('analysis/highway_share.py', '--root', root, e3va_dir,
             '--images', 2, '--out', tmp_path / 'share.json', cwd=ROOT)
    shares = json.loads((tmp_path / 'share.json').read_text())
    stages = shares[f'runs/seg/{e3va_dir.name}']['stages']
    assert list(stages) == ['0', '1', '2', '3']
    assert all(0 < s['share'] < 1 for s in stages.values())

    stamp = results.stat().st_mtime_ns
    again = run_tool('analysis/mini_study.py', *args, cwd=ROOT)
    assert '0 runs to run now' in again
    assert '[1/' not in again and results.stat().st_mtime_ns == stamp
    # Another schedule is another run (selected, not run here).
    other = run_tool('analysis/mini_study.py', *args, '--iters', 3,
                     '--report-only', cwd=ROOT)
    assert '4 runs to run now' in other
    # A calibration run: validation every iteration, a learning curve with
    # the per-class IoU; a study run like the others (in the table), and a
    # recorded run is not repeated for a curve. Seed 1 runs at Full's
    # selected multiplier only.
    again = run_tool('analysis/mini_study.py', *args, '--methods', 'Full',
                     '--curve', 1, cwd=ROOT)
    assert '0 runs to run now' in again
    assert results.stat().st_mtime_ns == stamp
    output = run_tool('analysis/mini_study.py', *args, '--methods', 'Full',
                      '--seeds', 1, '--curve', 1, cwd=ROOT)
    assert '1 runs to run now' in output
    assert ('0 records of other pretrained checkpoints and 2 of other '
            'settings or lr multipliers left out') in output
    records = json.loads(results.read_text())['records']
    calibrated = [r for r in records.values() if r.get('curve')]
    assert len(records) == 5 and len(calibrated) == 1
    curve = calibrated[0]['curve']
    assert [p['iter'] for p in curve] == [1, 2]
    for point in curve:
        assert 0 <= point['mIoU'] <= 100 and point['per_class_iou']
    table = (out_dir / 'table.md').read_text()
    assert '| Full |' in table and ' (2) |' in table
    full_lr = calibrated[0]['settings']['swin_lr_mult']
    assert f'| Full | 1 | 0.001 (Swin x{full_lr:g}) | 2 | 2 |' in (
        out_dir / 'calibration.md').read_text()
    png = out_dir / 'calibration_seg.png'
    assert png.read_bytes()[:4] == b'\x89PNG'

    # Sweep candidates measured on another selection split: E3VA x1 is
    # tested on the current one from its checkpoint; Full x1, whose
    # checkpoint is gone, is run again. Both keep what they replace.
    data = json.loads(results.read_text())
    by_lr = {lr_sweep.describe(r['method'], r['settings']): r
             for r in data['records'].values() if r['seed'] == 0}
    e3va, full = by_lr['adapters x1'], by_lr['Swin x1']
    for record in (e3va, full):
        record['select_data'] = dict(record['select_data'], num_val=99)
    results.write_text(json.dumps(data))
    (root / full['work_dir'] / f"iter_{full['settings']['iters']}.pth"
     ).unlink()
    output = run_tool('analysis/mini_study.py', *args, cwd=ROOT)
    assert '2 recorded runs to test on the current selection split' in output
    assert 'selection split: seg E3VA adapters x1: mIoU' in output
    assert 'selection split: seg Full Swin x1: mIoU' in output
    assert '[1/' not in output  # no run of the plan
    records = json.loads(results.read_text())['records']
    assert len(records) == 5
    for old in (e3va, full):
        new = records[old['hash']]
        assert new['select_data'] == dict(old['select_data'], num_val=4)
        assert new['earlier_selection'] == dict(
            select_metrics=old['select_metrics'],
            select_data=old['select_data'])
    assert 'rerun_of' not in records[e3va['hash']]
    assert records[e3va['hash']]['finished_at'] == e3va['finished_at']
    assert records[full['hash']]['rerun_of'] == dict(
        metrics=full['metrics'], pretrained_sha1=full['pretrained_sha1'],
        finished_at=full['finished_at'])
    assert (root / full['work_dir'] /
            f"iter_{full['settings']['iters']}.pth").exists()

    # A run from another pretrained checkpoint (or one not recorded) counts
    # as not run: the table leaves it out, and the study runs it again,
    # keeping what it replaces.
    data = json.loads(results.read_text())
    seed1 = next(r for r in data['records'].values() if r['seed'] == 1)
    sha1 = seed1['pretrained_sha1']
    seed1['pretrained_sha1'] = '0' * 40
    results.write_text(json.dumps(data))
    output = run_tool('analysis/mini_study.py', *args, '--methods', 'Full',
                      '--seeds', 1, '--report-only', cwd=ROOT)
    assert '1 runs to run now' in output
    assert ('1 of the runs to run now are recorded from another pretrained '
            'checkpoint') in output
    assert '1 records of other pretrained checkpoints' in output
    assert ' (1) |' in (out_dir / 'table.md').read_text()
    output = run_tool('analysis/mini_study.py', *args, '--methods', 'Full',
                      '--seeds', 1, cwd=ROOT)
    assert '[1/1] seg Full seed 1' in output
    rerun = json.loads(results.read_text())['records'][seed1['hash']]
    assert rerun['pretrained_sha1'] == sha1
    assert rerun['rerun_of'] == dict(
        metrics=seed1['metrics'], pretrained_sha1='0' * 40,
        finished_at=seed1['finished_at'], curve=seed1['curve'])
    assert ' (2) |' in (out_dir / 'table.md').read_text()
    # The replaced run's learning curve stays in the calibration, under its
    # checkpoint (the run made again has no curve: made without --curve).
    assert 'curve' not in rerun
    calibration_md = (out_dir / 'calibration.md').read_text()
    full_row = f'| Full | 1 | 0.001 (Swin x{full_lr:g}) | 2 | 2 |'
    assert full_row in calibration_md
    assert '| `00000000` |' in calibration_md
    assert f'| `{sha1[:8]}` |' not in calibration_md

    # tools/analysis/study_rerun.py: E3VA x5 made again with its recorded
    # settings gives the recorded result, under the same hash; a rerun
    # already made is kept.
    reruns = tmp_path / 'rerun' / 'results.json'
    output = run_tool('analysis/study_rerun.py', e3va_x5['hash'],
                      '--results', results, '--root', root, '--out', reruns,
                      cwd=ROOT)
    made = json.loads(reruns.read_text())['records'][e3va_x5['hash']]
    assert made['settings'] == e3va_x5['settings']
    assert made['metrics'] == e3va_x5['metrics']
    mIoU = e3va_x5['metrics']['mIoU']
    assert f"| seg | E3VA | 0 | mIoU {mIoU:.2f} | mIoU {mIoU:.2f} |" in output
    stamp = reruns.stat().st_mtime_ns
    run_tool('analysis/study_rerun.py', e3va_x5['hash'], '--results', results,
             '--root', root, '--out', reruns, cwd=ROOT)
    assert reruns.stat().st_mtime_ns == stamp


def test_learning_curve_numbers_validations_by_the_schedule(tmp_path):
    """mmdet logs validation scalars with step 0: the curve's iterations
    come from the schedule (every N-th and the last), and a log with
    another number of validations is refused, naming the log."""
    log = str(tmp_path / 'train.log')
    entries = [{'loss': 1.0, 'step': 50}]
    for value in (0.1, 0.2, 0.3):
        entries.append({'coco/bbox_mAP': value, 'coco/segm_mAP': value / 2,
                        'step': 0})
    curve = learning_curve('det', entries, log, 100, 250)
    assert [p['iter'] for p in curve] == [100, 200, 250]
    assert curve[2]['det AP'] == pytest.approx(30.0)
    assert curve[2]['mask AP'] == pytest.approx(15.0)
    with pytest.raises(ValueError, match='2 validations logged, expected 3'):
        learning_curve('det', entries[:3], log, 100, 250)


def test_runs_made_again_keep_their_curves_in_the_calibration(tmp_path):
    """A run made twice again keeps both replaced runs (``rerun_of`` in
    ``rerun_of``): each with its own metrics, checkpoint and curve and the
    record's settings, and the calibration shows every curve, told apart
    by its checkpoint."""
    settings = dict(iters=2, lr=0.001, tuning_lr_mult=5.0,
                    data=dict(version=3, num_train=8),
                    pretrain=dict(task='classification'),
                    config_digest='abcdef123')
    first = dict(metrics={'mIoU': 40.0}, pretrained_sha1='a' * 40,
                 finished_at='1', curve=[dict(iter=1, mIoU=30.0),
                                         dict(iter=2, mIoU=40.0)])
    second = dict(metrics={'mIoU': 45.0}, pretrained_sha1='b' * 40,
                  finished_at='2', rerun_of=replaced(first))
    record = dict(task='seg', method='E3VA', seed=0, settings=settings,
                  metrics={'mIoU': 50.0}, pretrained_sha1='c' * 40,
                  finished_at='3', rerun_of=replaced(second))
    runs = replaced_runs(record)
    assert [r['metrics']['mIoU'] for r in runs] == [45.0, 40.0]
    assert all(r['settings'] is settings and 'rerun_of' not in r
               for r in runs)
    assert 'curve' not in runs[0] and runs[1]['curve'] == first['curve']

    record['curve'] = [dict(iter=2, mIoU=50.0)]
    curves = calibration.curve_records({'h': record})
    assert [r['pretrained_sha1'][0] for r in curves] == ['a', 'c']
    table = calibration.markdown(curves)
    assert '| 1 | 30.0 | v3, 8 train, cls pretrain | `aaaaaaaa` |' in table
    assert '| 2 | 40.0 | v3, 8 train, cls pretrain | `aaaaaaaa` |' in table
    assert '| 2 | 50.0 | v3, 8 train, cls pretrain | `cccccccc` |' in table
    assert '`bbbbbbbb`' not in table  # its curve was not recorded
    png, = calibration.plot(curves, str(tmp_path))
    assert Path(png).read_bytes()[:4] == b'\x89PNG'


def test_draw_study_scenes_writes_both_families(tmp_path):
    out = tmp_path / 'scenes.png'
    run_tool('analysis/draw_study_scenes.py', '--out', out, '--num', 2,
             '--size', 48, cwd=ROOT)
    import matplotlib.image as mpimg
    img = mpimg.imread(out)
    assert img.shape[0] > 300 and img.shape[1] > 200
    # Four rows of panels (two families, image and labels): many colours.
    assert len(np.unique(img[..., :3].reshape(-1, 3), axis=0)) > 500


def _pretrain_tool():
    """``tools/pretrain_tiny_swin.py`` as a module."""
    spec = importlib.util.spec_from_file_location(
        'pretrain_tiny_swin', ROOT / 'tools/pretrain_tiny_swin.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_classification_pretraining_trains_the_swin_on_image_labels(
        tmp_path):
    """The study's source pretraining (image-level labels, as ImageNet):
    each image's target is the set of shapes and the background it shows;
    the tool saves an upstream Swin checkpoint, every stage trained, that
    the study configs load."""
    tool = _pretrain_tool()
    labels = torch.tensor([[[0, 0], [9, 9]], [[3, 12], [12, 12]]])
    present = tool.label_presence(labels, 14)
    assert present.shape == (2, 14) and present.sum().item() == 4
    assert present[0].nonzero().flatten().tolist() == [0, 9]
    assert present[1].nonzero().flatten().tolist() == [3, 12]

    assert PRETRAIN['task'] == 'classification'
    config = Config.fromfile(ROOT / TASKS['seg']['config'])
    for task in TASKS.values():
        cfg = Config.fromfile(ROOT / task['config'])
        assert cfg.model.backbone.init_cfg.checkpoint == CHECKPOINT
    out = tmp_path / 'swin.pth'
    log = run_tool('pretrain_tiny_swin.py', ROOT / TASKS['seg']['config'],
                   '--scenes', 'study_source', '--task', 'classification',
                   '--iters', 2, '--batch-size', 2, '--size', 64,
                   '--log-interval', 1, '--out', out, cwd=tmp_path)
    assert 'pretrain iter 2/2' in log and 'classification acc' in log
    kwargs = tool.swin_kwargs(config.model.backbone)
    torch.manual_seed(0)  # the tool's default seed: its initial weights
    initial = SwinTransformer(**kwargs)
    initial.init_weights()
    trained = SwinTransformer(**kwargs)
    state = torch.load(out, map_location='cpu', weights_only=True)
    trained.load_state_dict(state['state_dict'])  # strict
    assert 'classification' in state['meta']['task']
    before = dict(initial.named_parameters())
    for prefix in ('patch_embed.', 'stages.0.', 'stages.3.'):
        moved = [name for name, p in trained.named_parameters()
                 if name.startswith(prefix) and
                 not torch.equal(p, before[name])]
        assert moved, f'{prefix} not trained'


def test_the_committed_checkpoint_is_the_study_spec_and_preferred(tmp_path):
    """The committed checkpoint was made with PRETRAIN and loads strictly
    into the study Swin; prepare_pretrained copies it over a cached
    checkpoint of the same spec with other bytes, keeps an equal one, and
    keeps the cache where no committed checkpoint has the spec."""
    committed = ROOT / COMMITTED_PRETRAINED
    assert json.loads((committed / 'spec.json').read_text()) == PRETRAIN
    state = torch.load(committed / Path(CHECKPOINT).name, map_location='cpu',
                       weights_only=True)
    backbone = Config.fromfile(ROOT / TASKS['seg']['config']).model.backbone
    SwinTransformer(**_pretrain_tool().swin_kwargs(backbone)).load_state_dict(
        state['state_dict'])  # strict

    spec_dir = tmp_path / 'committed'
    spec_dir.mkdir()
    (spec_dir / Path(CHECKPOINT).name).write_bytes(b'committed weights')
    (spec_dir / 'spec.json').write_text(json.dumps(PRETRAIN))
    root = tmp_path / 'root'
    cached = root / CHECKPOINT
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b'regenerated on another CPU')
    (cached.parent / 'spec.json').write_text(json.dumps(PRETRAIN))
    said = []
    prepare_pretrained(str(root), PRETRAIN, said.append, str(spec_dir))
    assert cached.read_bytes() == b'committed weights'
    assert said == [f'using the committed pretrained checkpoint '
                    f'{spec_dir / Path(CHECKPOINT).name}']
    prepare_pretrained(str(root), PRETRAIN, said.append, str(spec_dir))
    assert len(said) == 1  # equal bytes: nothing to do
    # The runs start from, and the records count for, the committed bytes.
    assert study_checkpoint_sha1(str(root), PRETRAIN, str(spec_dir)) == (
        hashlib.sha1(b'committed weights').hexdigest())

    other = dict(PRETRAIN, iters=PRETRAIN['iters'] + 1)
    (cached.parent / 'spec.json').write_text(json.dumps(other))
    prepare_pretrained(str(root), other, said.append, str(spec_dir))
    assert len(said) == 1 and cached.read_bytes() == b'committed weights'
    cached.write_bytes(b'pretrained with another spec')
    assert study_checkpoint_sha1(str(root), other, str(spec_dir)) == (
        hashlib.sha1(b'pretrained with another spec').hexdigest())
    cached.unlink()
    assert study_checkpoint_sha1(str(root), other, str(spec_dir)) is None
