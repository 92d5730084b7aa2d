"""The study's committed records stay valid: the study code rebuilds every
current record's settings to the hash it is recorded under, so the study
tool skips them instead of training them again."""
from conftest import ROOT
from tools.study.mini_study import (TASKS, config_digest, load_records,
                                    run_settings, settings_hash)

# The resolved study configs' digests that the committed records carry.
COMMITTED_DIGESTS = {
    'det': 'ff32219e8659',
    'seg': 'e782a85775cd',
    'voc': 'd5d293b437b3',
}


def test_study_configs_keep_their_committed_digests():
    assert {task: config_digest(spec['config'])
            for task, spec in TASKS.items()} == COMMITTED_DIGESTS


def test_every_current_record_hash_is_rebuilt_from_its_settings():
    records = load_records(ROOT / 'docs/study/results.json')
    current = [
        r for r in records.values()
        if r['settings'].get('config_digest') == COMMITTED_DIGESTS[r['task']]
    ]
    assert len(current) >= 200
    for record in current:
        s = record['settings']
        lr_mults = dict(swin_lr_mult=s['swin_lr_mult'],
                        tuning_lr_mult=s.get('tuning_lr_mult', 1.0))
        rebuilt = run_settings(s['task'], s['method'], s['seed'], s['iters'],
                               s['data'], s['pretrain'], lr_mults)
        assert settings_hash(rebuilt) == record['hash'], (
            record['work_dir'], rebuilt, s)
