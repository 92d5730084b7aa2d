"""The configs inherit instead of copying: every config resolves to what it
resolved to before the configs were laid out on neutral bases (the committed
snapshot), key for key, but for what the configs now declare themselves
(the runner and hooks the launcher used to add, the crash-safe checkpoint
hook in place of mmengine's) and the old root configs' inert ``pretrained``
variable; method configs state only their tuning."""
import gzip
import json

import pytest
from mmengine.config import Config

from conftest import ROOT

SNAPSHOT = ROOT / 'tests/snapshots/resolved_configs_before_layout.json.gz'
BEFORE = json.loads(gzip.open(SNAPSHOT, 'rt').read())
DECLARED_HOOKS = ('CheckpointMatchHook', 'RandomStateHook')
METHOD_CONFIGS = sorted(
    p for folder in ('coco', 'ade20k', 'voc')
    for p in (ROOT / 'configs' / folder).glob('*.py'))


def resolved(path):
    cfg = Config.fromfile(str(ROOT / path))
    return json.loads(json.dumps(cfg.to_dict(), sort_keys=True, default=repr))


def test_snapshot_names_every_config():
    configs = {str(p.relative_to(ROOT))
               for p in (ROOT / 'configs').glob('*/*.py')
               if p.parent.name != '_base_'}
    assert configs == set(BEFORE)


@pytest.mark.parametrize('path', sorted(BEFORE))
def test_config_resolves_as_before_the_layout(path):
    now = resolved(path)
    assert now.pop('runner_type') == 'CheckedRunner'
    hooks = [h['type'] for h in now['custom_hooks']]
    assert all(hooks.count(h) == 1 for h in DECLARED_HOOKS), hooks
    now['custom_hooks'] = [h for h in now['custom_hooks']
                           if h['type'] not in DECLARED_HOOKS]
    assert now['default_hooks']['checkpoint'].pop(
        'type') == 'CrashSafeCheckpointHook'
    before = dict(BEFORE[path])
    before['default_hooks']['checkpoint'].pop('type')
    if 'pretrained' not in now:  # an inert variable of the old root configs
        before.pop('pretrained', None)
    assert now == before


@pytest.mark.parametrize('path', METHOD_CONFIGS, ids=lambda p: p.name)
def test_method_config_states_only_its_base_and_tuning(path):
    code = [line for line in path.read_text().splitlines()
            if line and not line.startswith('#')]
    assert len(code) < 15
    assert code[0].startswith("_base_ = './_base_/")
    assert '_delete_' not in path.read_text()
    assert 'GPUs' not in path.read_text()
