"""The mini-study: target scenes in real COCO/ADE20K/VOC formats read by the
upstream datasets of the study configs, and the study tool end to end in
--quick mode (real tools/train.py and tools/test.py runs, records, table,
summary and plots), then resumed without running anything again."""
import json

import numpy as np
from mmengine.config import Config
from mmengine.registry import init_default_scope

from conftest import ROOT, run_tool
from mmdet_e3va.analysis.mini_study import TASKS
from mmdet_e3va.datasets.study_scenes import (SOURCE_SCENES, TARGET_CLASSES,
                                              TARGET_SCENES, generate_target)


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


def test_quick_study_runs_then_resumes(tmp_path):
    root, results = tmp_path / 'root', tmp_path / 'out' / 'results.json'
    args = ('--quick', '--root', root, '--results', results, '--threads', 1)
    output = run_tool('analysis/mini_study.py', *args, cwd=ROOT)
    assert '2 to run' in output and '[2/2] seg E3VA seed 0:' in output
    records = json.loads(results.read_text())['records']
    by_method = {r['method']: r for r in records.values()}
    assert set(by_method) == {'Full', 'E3VA'}
    for record in records.values():
        assert 0 <= record['metrics']['mIoU'] <= 100
        assert record['memory_mb'] > 0 and record['step_time_s'] > 0
        assert record['cpu_s_per_iter'] > 0 and record['machine']['hostname']
    full, e3va = by_method['Full'], by_method['E3VA']
    assert full['params']['backbone_share'] == 1.0
    assert 0 < e3va['params']['backbone_share'] < 0.1
    assert e3va['memory_mb'] < full['memory_mb']
    out_dir = results.parent
    table = (out_dir / 'table.md').read_text()
    assert '| Full |' in table and '| E3VA |' in table and 'mIoU' in table
    summary = json.loads((out_dir / 'summary.json').read_text())
    assert summary['summary']['seg']['E3VA']['memory_mb_vs_full'] < 1
    for png in ('accuracy_vs_memory.png', 'memory_time.png'):
        assert (out_dir / png).read_bytes()[:4] == b'\x89PNG'

    stamp = results.stat().st_mtime_ns
    again = run_tool('analysis/mini_study.py', *args, cwd=ROOT)
    assert '2 recorded' in again and '0 to run' in again
    assert '[1/' not in again and results.stat().st_mtime_ns == stamp
    # Another schedule is another run (selected, not run here).
    other = run_tool('analysis/mini_study.py', *args, '--iters', 3,
                     '--report-only', cwd=ROOT)
    assert '0 recorded' in other and '2 to run' in other
