"""The mini-study (the paper's table at CPU scale): methods, tasks, the
protocol, settings hashes, durable records, and one run through the real
``tools/train.py`` and ``tools/test.py``.

A run is identified by the hash of its settings (task, method and tuning
dict, seed, iterations, lr, schedule, the resolved config, target data and
source pretraining with the scenes' version); a results JSON maps hashes to
records, so a run whose hash is recorded is never repeated and changing any
setting makes new runs.
"""
import contextlib
import fcntl
import functools
import hashlib
import inspect
import json
import os
import os.path as osp
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
from importlib.metadata import version

from tools.scenes.study_scenes import SCENES_VERSION
from .e3va_plus_variants import E3VA_PLUS_ABLATIONS
from .e3va_tap_variants import E3VA_TAP_VARIANTS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

STUDY_WIDTH_FACTOR = 0.25  # study Swin width 32 / Swin-B width 128
_WIDTH_KEYS = ('rank', 'bottleneck_dims')  # integer widths
_SCALE_KEYS = ('alpha', )  # LoRA's alpha: alpha / rank stays the same


# Constructor arguments added after the committed study records, whose
# default runs what the records ran: the settings leave them out while they
# sit at that default, so the records keep their hashes.
RECORD_NEUTRAL_DEFAULTS = ('tap_dtype', )  # E3VA's, None: lossless taps


def _defaults(cls):
    """The constructor defaults of a tuning class, following ``**kwargs``
    into the project's base classes (not into mmengine's)."""
    defaults = {}
    for klass in cls.__mro__:
        if not klass.__module__.startswith('mmdet_e3va'):
            break
        if '__init__' not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        for p in params:
            if p.default is not p.empty:
                defaults.setdefault(p.name, p.default)
        if all(p.kind is not p.VAR_KEYWORD for p in params):
            break
    return defaults


def at_study_width(tuning):
    """``tuning`` with every argument of its method (defaults filled in, so
    the settings hash changes with them; :data:`RECORD_NEUTRAL_DEFAULTS`
    only when set otherwise) and its ranks, bottleneck dims and
    LoRA alpha (set for Swin-B) times :data:`STUDY_WIDTH_FACTOR`: the study
    Swin is a quarter as wide as Swin-B, so each method keeps its trainable
    share and LoRA its scale alpha / rank."""
    from mmdet_e3va.registry import TUNINGS
    cls = TUNINGS.get(tuning['type'])
    if cls is None:
        raise KeyError(f"tuning type {tuning['type']!r} is not registered")
    defaults = _defaults(cls)
    scaled = dict(type=tuning['type'], **defaults)
    scaled.update(tuning)
    for key in RECORD_NEUTRAL_DEFAULTS:
        if key in defaults and scaled[key] == defaults[key]:
            del scaled[key]
    for key, value in scaled.items():
        if key in _SCALE_KEYS and isinstance(value, (int, float)):
            scaled[key] = value * STUDY_WIDTH_FACTOR
        elif key in _WIDTH_KEYS and isinstance(value, int):
            scaled[key] = max(1, round(value * STUDY_WIDTH_FACTOR))
        elif key in _WIDTH_KEYS and isinstance(value, (tuple, list)):
            scaled[key] = tuple(max(1, round(v * STUDY_WIDTH_FACTOR))
                                for v in value)
    return scaled


# The paper's methods with the paper configs' budgets (set for Swin-B; the
# others at their defaults) scaled to the study's width.
PAPER_METHODS = {
    name: at_study_width(tuning) for name, tuning in {
        'Full': dict(type='Full'),
        'Frozen': dict(type='Frozen'),
        'BitFit': dict(type='BitFit', position_bias_tables=True),
        'LNTune': dict(type='LNTune'),
        'Partial-1': dict(type='Partial', num_blocks=1),
        'Adapter': dict(type='Adapter'),
        'LoRA': dict(type='LoRA', rank=64, alpha=1, targets=('q', 'v')),
        'AdaptFormer': dict(type='AdaptFormer', branches=('attn', 'mlp')),
        'LoRand': dict(type='LoRand'),
        'Mona': dict(type='Mona'),
        'E3VA': dict(type='E3VA'),
    }.items()
}
# The method table the tool offers (name -> tuning dict): the paper's,
# then E3VAPlus and its ablations and the diagnostics (selected with
# --methods).
METHODS = dict(PAPER_METHODS)


def add_methods(table):
    """Offer more methods (name -> ``tuning`` dict, Swin-B budgets; scaled
    with :func:`at_study_width`); a name already taken by another dict is
    an error."""
    for name, tuning in table.items():
        if not isinstance(tuning, dict) or 'type' not in tuning:
            raise ValueError(f'method {name!r}: the tuning must be a dict '
                             f'with a type, got {tuning!r}')
        scaled = at_study_width(tuning)
        if METHODS.get(name, scaled) != scaled:
            raise ValueError(f'method {name!r} is already {METHODS[name]}')
        METHODS[name] = scaled


add_methods(E3VA_PLUS_ABLATIONS)
add_methods(E3VA_TAP_VARIANTS)
# Diagnostics (selected with --methods): full fine-tuning with the stem
# (patch embedding) frozen, which none of the adapter methods trains.
DIAGNOSTICS = {'Full-frozen-stem': dict(type='FullExcept',
                                        frozen_prefixes=('patch_embed.', ))}
add_methods(DIAGNOSTICS)


# Per task: config, schedule, the lr of the heads (and the base of the
# backbone's swept multipliers, see mini_study_lr_sweep), the metrics (table
# column -> evaluator key, scale to percent; the first selects the lr) and
# the config lines that point the test set at the selection split
# (``data/select/<task>/``, see :func:`selection_data`).
TASKS = {
    'seg': dict(
        config='configs/study/upernet_swin-study_study-ade20k.py',
        iters=1000, lr=1e-3, schedule='poly',
        metrics={'mIoU': ('mIoU', 1.0)},
        select=dict(test_dataloader=dict(dataset=dict(
            data_root='data/select/seg/ade/ADEChallengeData2016')))),
    'det': dict(
        config='configs/study/cascade-mask-rcnn_swin-study_fpn_study-coco.py',
        iters=1000, lr=2e-4, schedule='step',
        metrics={'det AP': ('coco/bbox_mAP', 100.0),
                 'mask AP': ('coco/segm_mAP', 100.0)},
        select=dict(
            test_dataloader=dict(dataset=dict(
                data_root='data/select/det/coco/')),
            test_evaluator=dict(ann_file='data/select/det/coco/annotations/'
                                'instances_val2017.json'))),
    'voc': dict(
        config='configs/study/retinanet_swin-study_fpn_study-voc.py',
        iters=2000, lr=2e-4, schedule='step',
        metrics={'VOC AP': ('pascal_voc/mAP', 100.0)},
        select=dict(test_dataloader=dict(dataset=dict(
            data_root='data/select/voc/VOCdevkit/')))),
}
# Nominal seconds per iteration on the 2-core CPU, for the first ETA only.
NOMINAL_S_PER_ITER = dict(seg=1.3, det=3.0, voc=0.8)

# Target scenes (all formats) and source pretraining of the backbone. 4,000
# training images: seg's 1,000 iterations of batch 4 see each once, so no
# method can memorise them (as on COCO-scale data).
DATA = dict(num_train=4000, num_val=300, size=128, seed=1,
            version=SCENES_VERSION['target'])


# Each task's selection split, in test splits' sizes: voc's RetinaNet AP on
# 300 images could not rank the lr multipliers of the methods near Frozen's
# level (selection and test split differed by up to 4.3 VOC AP), so voc
# selects on four times as many.
SELECTION_SCALE = dict(seg=1, det=1, voc=4)


def _selection_split(data, num_val):
    """``num_val`` target scenes of seed ``data['seed'] + 10``, which no
    training or test split of ``data`` uses."""
    return dict(data, num_train=0, num_val=num_val, seed=data['seed'] + 10)


def selection_data(data, task):
    """``task``'s selection split of ``data`` (``data/select/<task>/``):
    ``SELECTION_SCALE[task]`` times ``data``'s val split in images; the lr
    sweep reads its metric, the table never does."""
    return _selection_split(data, data['num_val'] * SELECTION_SCALE[task])


def record_selection_data(record):
    """The selection split ``record``'s ``select_metrics`` were measured on
    (records made before it was recorded: the val split's size)."""
    data = record['settings']['data']
    return record.get('select_data', _selection_split(data, data['num_val']))


def last_checkpoint(work_dir, settings):
    """The checkpoint a run of ``settings`` in ``work_dir`` ends with."""
    return osp.join(work_dir, f"iter_{settings['iters']}.pth")


# Image-level classification, as ImageNet pretraining: dense pretraining
# made the frozen features seg-ready (Frozen matched Full on seg).
PRETRAIN = dict(scenes='study_source', task='classification', iters=1500,
                batch_size=8, size=128, lr=1e-3, seed=0,
                version=SCENES_VERSION['source'])
CHECKPOINT = 'data/pretrained/swin-study_source-classification.pth'
# The checkpoint of PRETRAIN, committed with its spec and log: pretraining
# the same spec on another CPU gives other weights (ATen's AVX2 and AVX-512
# kernels round differently; seen on this project's machines), so every
# session and machine starts from these bytes.
COMMITTED_PRETRAINED = 'docs/study/pretrained'
PROTOCOL = (
    'Every method: the same pretrained backbone (a 2-2-6-2 Swin, width 32, '
    'pretrained to tell which shapes and background a source scene shows: '
    'image-level labels, as ImageNet), the same target data, batch, '
    'augmentation, schedule (linear warm-up over the first 10% of '
    'iterations, then step decay x0.1 at 80% for detection, poly decay for '
    'segmentation) and one AdamW lr per task for the heads. The same small '
    'lr sweep for every method that trains part of the backbone, at seed 0: '
    'the pretrained Swin parameters it trains (Full, BitFit, LN-tune, '
    'Partial) at 0.1 and 1 times the task lr, or its new backbone modules '
    '(adapters, LoRA, E3VA\'s highway) at 1 and 5 times it; each sweep run '
    'is tested on a selection split of its own (target scenes of another '
    'seed, not the test split; as many images as the test split, four '
    'times as many for voc), a best multiplier at an end of those run '
    'adds the next one on that side (Swin 0.01, 3, 10; new modules 0.2, '
    '25, 125), and the best multiplier is the method\'s for every seed and '
    'the table. Seeds fix initialisation, data order and '
    'augmentation.')


def task_settings_line(task, iters):
    """``task``'s schedule and learning rates in words (the tool's log and
    the table's settings line)."""
    spec = TASKS[task]
    return (f"{task}: {iters} iterations, AdamW lr {spec['lr']} (heads; "
            f"backbone parts swept), {spec['schedule']} schedule")


# --quick: a few iterations on a small data set in a temporary root.
QUICK = dict(methods=('Full', 'E3VA'), seeds=(0, ), iters=2,
             data=dict(DATA, num_train=8, num_val=4, size=64),
             pretrain=dict(PRETRAIN, iters=2, batch_size=2, size=64))


def settings_hash(settings):
    """12 hex digits of the SHA-1 of ``settings`` as sorted JSON, without
    ``curve``: validating during training (calibration) leaves what is
    trained and tested the same, so such a run is a study run too."""
    text = json.dumps({k: v for k, v in settings.items() if k != 'curve'},
                      sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


# What a config declares that checks and persists but decides nothing that
# is trained or tested (``configs/_base_/tuned_swin_runtime.py``): the
# launcher added it before the configs declared it, so the digest leaves it
# out and the records keep their hashes.
DIGEST_NEUTRAL_RUNNER = 'CheckedRunner'
DIGEST_NEUTRAL_HOOKS = ('CheckpointMatchHook', 'RandomStateHook')
# The checkpoint hook that saves what mmengine's saves, crash-safely.
DIGEST_NEUTRAL_CHECKPOINT_HOOK = ('CrashSafeCheckpointHook', 'CheckpointHook')


def digested_config(cfg):
    """The resolved config ``cfg`` (a dict) without what
    :data:`DIGEST_NEUTRAL_RUNNER` and :data:`DIGEST_NEUTRAL_HOOKS` name, and
    with mmengine's checkpoint hook for the crash-safe one."""
    cfg = dict(cfg)
    if cfg.get('runner_type') == DIGEST_NEUTRAL_RUNNER:
        del cfg['runner_type']
    if 'custom_hooks' in cfg:
        cfg['custom_hooks'] = [h for h in cfg['custom_hooks']
                               if h.get('type') not in DIGEST_NEUTRAL_HOOKS]
    checkpoint = cfg.get('default_hooks', {}).get('checkpoint', {})
    crash_safe, upstream = DIGEST_NEUTRAL_CHECKPOINT_HOOK
    if checkpoint.get('type') == crash_safe:
        cfg['default_hooks'] = dict(cfg['default_hooks'],
                                    checkpoint=dict(checkpoint, type=upstream))
    return cfg


@functools.lru_cache
def config_digest(path):
    """12 hex digits of the SHA-1 of the config at ``path`` (relative to
    the repository) as resolved, its ``_base_`` files included (less
    :func:`digested_config`'s keys)."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, path))
    text = json.dumps(digested_config(cfg.to_dict()), sort_keys=True,
                      default=repr)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def run_settings(task, method, seed, iters, data, pretrain, lr_mults):
    """Everything that decides a run's result. ``lr_mults``: the
    multipliers of the task lr for the pretrained Swin parameters a method
    trains (``swin_lr_mult``) and for its new backbone modules
    (``tuning_lr_mult``; left out at 1, as in the records made before the
    sweep, whose hashes stay)."""
    spec = TASKS[task]
    settings = dict(task=task, method=method, tuning=METHODS[method],
                    seed=seed, iters=iters, lr=spec['lr'],
                    swin_lr_mult=lr_mults['swin_lr_mult'],
                    schedule=spec['schedule'], config=spec['config'],
                    config_digest=config_digest(spec['config']), data=data,
                    pretrain=pretrain)
    if lr_mults.get('tuning_lr_mult', 1.0) != 1.0:
        settings['tuning_lr_mult'] = lr_mults['tuning_lr_mult']
    return settings


def load_records(path):
    """``{hash: record}`` from the results JSON (empty if absent)."""
    if not osp.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)['records']


@contextlib.contextmanager
def exclusive(path):
    """Hold an exclusive lock on the file ``path.lock`` (its folder made if
    missing): studies of other tasks or methods may run beside each other
    and share the records, the target scenes and the pretrained Swin."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def save_record(path, record):
    """Add ``record`` to the results JSON: under a lock, written to a
    temporary file, then renamed."""
    with exclusive(path):
        records = load_records(path)
        records[record['hash']] = record
        tmp = path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(dict(protocol=PROTOCOL, records=records), f, indent=1,
                      sort_keys=True)
        os.replace(tmp, path)


def _stamped(directory, spec):
    stamp = osp.join(directory, 'spec.json')
    if osp.exists(stamp):
        with open(stamp) as f:
            return json.load(f) == spec
    return False


def _stamp(directory, spec):
    with open(osp.join(directory, 'spec.json'), 'w') as f:
        json.dump(spec, f)


def prepare_data(out, data, log=print):
    """Write the target scenes (COCO, ADE20K, VOC) of ``data`` under
    ``out`` unless the same spec is there already; under a lock, so a study
    started beside another waits for its scenes instead of rewriting them
    while that one trains on them."""
    from tools.scenes.study_scenes import generate_target
    with exclusive(osp.normpath(out)):
        if _stamped(out, data):
            return
        log(f'writing the target scenes {data} to {out}/')
        for sub in ('coco', 'ade', 'VOCdevkit'):
            shutil.rmtree(osp.join(out, sub), ignore_errors=True)
        os.makedirs(out, exist_ok=True)
        generate_target(out, data['num_train'], data['num_val'],
                        data['size'], data['seed'])
        _stamp(out, data)


def prepare_pretrained(root, pretrain, log=print,
                       committed=osp.join(ROOT, COMMITTED_PRETRAINED)):
    """Put the study Swin's pretrained checkpoint at ``root/CHECKPOINT``:
    the ``committed`` one when it was made with the same spec (replacing a
    cached copy with other bytes), else the cached one of that spec, else
    pretrain it on the source scenes with ``tools/pretrain_tiny_swin.py``;
    under a lock, as ``prepare_data``.
    """
    out_dir = osp.join(root, 'data', 'pretrained')
    with exclusive(out_dir):
        target = osp.join(root, CHECKPOINT)
        source = osp.join(committed, osp.basename(CHECKPOINT))
        cached = _stamped(out_dir, pretrain) and osp.exists(target)
        if _stamped(committed, pretrain):
            if not cached or file_sha1(target) != file_sha1(source):
                log(f'using the committed pretrained checkpoint {source}')
                os.makedirs(out_dir, exist_ok=True)
                shutil.copyfile(source, target)
                _stamp(out_dir, pretrain)
            return
        if cached:
            return
        log(f'pretraining the study Swin on the source scenes {pretrain}')
        os.makedirs(out_dir, exist_ok=True)
        cmd = [sys.executable, osp.join(ROOT, 'tools/pretrain_tiny_swin.py'),
               osp.join(ROOT, TASKS['seg']['config']), '--out', CHECKPOINT]
        # The scenes' version is the code's, no option.
        for key, value in pretrain.items():
            if key != 'version':
                cmd += ['--' + key.replace('_', '-'), str(value)]
        _run(cmd, root, osp.join(out_dir, 'pretrain.log'))
        _stamp(out_dir, pretrain)


def study_checkpoint_sha1(root, pretrain,
                          committed=osp.join(ROOT, COMMITTED_PRETRAINED)):
    """SHA-1 of the pretrained checkpoint the study's runs start from: the
    ``committed`` one when it was made with ``pretrain``, else the one
    cached at ``root/CHECKPOINT`` for that spec; None before pretraining."""
    if _stamped(committed, pretrain):
        return file_sha1(osp.join(committed, osp.basename(CHECKPOINT)))
    target = osp.join(root, CHECKPOINT)
    if _stamped(osp.dirname(target), pretrain) and osp.exists(target):
        return file_sha1(target)
    return None


def of_checkpoint(records, sha1):
    """The records (hash -> record) that started from the pretrained
    checkpoint ``sha1``. A run from another checkpoint, or from one it did
    not record, counts as not run: the study runs it again and leaves it out
    of the table, which so comes from one checkpoint."""
    return {key: r for key, r in records.items()
            if sha1 is not None and r.get('pretrained_sha1') == sha1}


_REPLACED_KEYS = ('metrics', 'pretrained_sha1', 'finished_at', 'curve',
                  'rerun_of')


def replaced(record):
    """What a run made again keeps of the record it replaces
    (``rerun_of``): its metrics, checkpoint, time, learning curve and the
    runs that one replaced (its own ``rerun_of``)."""
    return {k: record[k] for k in _REPLACED_KEYS if k in record}


def replaced_runs(record):
    """The runs that ``record`` replaced, newest first, each as a record:
    ``record``'s settings with the replaced run's metrics, checkpoint, time
    and curve."""
    settings = {k: v for k, v in record.items() if k not in _REPLACED_KEYS}
    runs = []
    while 'rerun_of' in record:
        record = dict(settings, **record['rerun_of'])
        runs.append({k: v for k, v in record.items() if k != 'rerun_of'})
    return runs


def _run(cmd, cwd, log_file):
    """Run ``cmd``; its output goes to ``log_file``. Returns the CPU
    seconds it (and its children) used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log_file, 'w') as log:
        result = subprocess.run(cmd, cwd=cwd, stdout=log,
                                stderr=subprocess.STDOUT, env=RUN_ENV)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        with open(log_file) as f:
            tail = f.read()[-4000:]
        raise RuntimeError(f'{" ".join(cmd)} exited {result.returncode} '
                           f'(log: {log_file}):\n{tail}')
    return (after.ru_utime + after.ru_stime - before.ru_utime -
            before.ru_stime)


# Environment of the train/test/pretrain processes; set_threads() fixes
# their torch/OpenMP threads.
RUN_ENV = dict(os.environ)


def set_threads(threads):
    """Run the subprocesses with ``threads`` OpenMP/torch threads. On a
    machine shared with other jobs, 1 thread avoids OpenMP's spin-waiting
    on descheduled peer threads (10x slower steps seen at load 10 on 2
    cores)."""
    RUN_ENV['OMP_NUM_THREADS'] = str(threads)
    RUN_ENV['MKL_NUM_THREADS'] = str(threads)


def _schedule(kind, iters):
    warm = max(1, iters // 10)
    warmup = dict(type='LinearLR', start_factor=0.01, by_epoch=False,
                  begin=0, end=warm)
    if kind == 'poly':
        return [warmup, dict(type='PolyLR', eta_min=0.0, power=1.0,
                             begin=warm, end=max(iters, warm + 1),
                             by_epoch=False)]
    return [warmup, dict(type='MultiStepLR', by_epoch=False, begin=0,
                         end=iters, milestones=[max(1, iters * 8 // 10)],
                         gamma=0.1)]


def run_config(settings):
    """The text of the run's config: the task config plus the method's
    tuning, seed, schedule and lr; no validation during training (the run
    is evaluated by tools/test.py) unless the settings ask for a learning
    ``curve`` (validation every ``curve`` iterations)."""
    iters = settings['iters']
    every = settings.get('curve') or iters
    first = every if settings.get('curve') else iters + 1
    lines = [
        f"_base_ = {osp.join(ROOT, settings['config'])!r}",
        'model = dict(backbone=dict(tuning=dict(_delete_=True, '
        f"**{settings['tuning']!r})))",
        f"randomness = dict(seed={settings['seed']})",
        f'train_cfg = dict(max_iters={iters}, val_interval={every}, '
        f'val_begin={first})',
        f"optim_wrapper = dict(optimizer=dict(lr={settings['lr']!r}), "
        f"swin_lr_mult={settings['swin_lr_mult']!r}"
        + (f", tuning_lr_mult={settings['tuning_lr_mult']!r})"
           if 'tuning_lr_mult' in settings else ')'),
        f"param_scheduler = {_schedule(settings['schedule'], iters)!r}",
        'default_hooks = dict(logger=dict(interval='
        f'{max(1, min(10, iters // 2))}), checkpoint=dict(by_epoch=False, '
        f'interval={iters}, max_keep_ckpts=1))',
    ]
    return '\n'.join(lines) + '\n'


def _scalars(work_dir):
    """Training scalars logged to ``vis_data/scalars.json``."""
    paths = [osp.join(d, f) for d, _, files in os.walk(work_dir)
             for f in files if f == 'scalars.json']
    if not paths:
        raise FileNotFoundError(f'{work_dir}: no vis_data/scalars.json')
    with open(paths[0]) as f:
        return [json.loads(line) for line in f if line.strip()]


def _test_metrics(test_dir, keys):
    """The evaluator's metrics from the test run's JSON log."""
    for d, _, files in os.walk(test_dir):
        for name in files:
            if not name.endswith('.json') or name == 'scalars.json':
                continue
            with open(osp.join(d, name)) as f:
                for line in f:
                    entry = json.loads(line) if line.strip() else {}
                    if all(k in entry for k in keys):
                        return entry
    raise FileNotFoundError(f'{test_dir}: no JSON log with {keys}')


def _metrics(task, test_dir):
    """``(metrics, raw)``: the table's metrics of ``task`` (in percent)
    and every scalar of the test run in ``test_dir``."""
    spec = TASKS[task]['metrics']
    raw = _test_metrics(test_dir, [key for key, _ in spec.values()])
    return ({name: raw[key] * scale for name, (key, scale) in spec.items()},
            {k: v for k, v in raw.items() if isinstance(v, (int, float))})


def evaluate_selection(root, work_dir, settings):
    """The metrics of the run in ``work_dir`` on its task's selection split
    (``root/data/select/<task>/``): its last checkpoint through
    ``tools/test.py`` with the test set pointed there by
    ``select_config.py``."""
    ckpt = last_checkpoint(work_dir, settings)
    if not osp.exists(ckpt):
        raise FileNotFoundError(
            f'{ckpt}: the checkpoint the selection split is tested with is '
            'missing; remove the record from the results JSON to rerun it')
    config = osp.join(work_dir, 'select_config.py')
    with open(config, 'w') as f:
        f.write("_base_ = './config.py'\n" + ''.join(
            f'{key} = {value!r}\n'
            for key, value in TASKS[settings['task']]['select'].items()))
    test_dir = osp.join(work_dir, 'select')
    shutil.rmtree(test_dir, ignore_errors=True)
    _run([sys.executable, osp.join(ROOT, 'tools/test.py'), config, ckpt,
          '--work-dir', test_dir], root, osp.join(work_dir, 'select.log'))
    return _metrics(settings['task'], test_dir)[0]


def per_class_iou(log_text):
    """The per-class tables mmseg's ``IoUMetric`` printed in ``log_text``,
    in order: ``{class: IoU}`` of the classes present (IoU not nan)."""
    tables = []
    for block in log_text.split('per class results:')[1:]:
        table, started = {}, False
        for line in block.splitlines()[1:]:
            line = line.strip()
            if line.startswith('+'):
                continue
            if not line.startswith('|'):
                if started:
                    break
                continue
            cells = [c.strip() for c in line.strip('|').split('|')]
            if cells[0] == 'Class':
                started = True
            elif started and cells[1] != 'nan':
                table[cells[0]] = float(cells[1])
        tables.append(table)
    return tables


def validation_iters(curve, iters):
    """The iterations after which mmengine's ``IterBasedTrainLoop``
    validates with ``val_begin=val_interval=curve``: every ``curve``-th and
    the last."""
    return list(range(curve, iters + 1, curve)) + (
        [iters] if iters % curve else [])


def learning_curve(task, entries, train_log, curve, iters):
    """``[{'iter', <metric>: value, ('per_class_iou')}]`` of the
    validations during training, from the scalars and, for seg, the
    per-class tables of ``train_log``. The iterations come from the
    schedule: mmdet logs its validation scalars with ``step`` 0."""
    metric_spec = TASKS[task]['metrics']
    found = [e for e in entries
             if all(key in e for key, _ in metric_spec.values())]
    expected = validation_iters(curve, iters)
    if len(found) != len(expected):
        raise ValueError(f'{train_log}: {len(found)} validations logged, '
                         f'expected {len(expected)} (every {curve} of '
                         f'{iters} iterations)')
    points = [
        dict(iter=it, **{name: e[key] * scale
                         for name, (key, scale) in metric_spec.items()})
        for it, e in zip(expected, found)]
    if task == 'seg':
        with open(train_log) as f:
            for point, table in zip(points, per_class_iou(f.read())):
                point['per_class_iou'] = table
    return points


MEMORY_PREFERENCE = ('cuda_peak_mem_mb', 'saved_for_backward_mb',
                     'peak_rss_mb')


def _memory(entries):
    """Max over the log of every memory scalar, and the key the table uses:
    a measured peak of live training memory when the log has one (``*peak*
    mem*`` except RSS), else the first of :data:`MEMORY_PREFERENCE`."""
    memory = {}
    for entry in entries:
        for key, value in entry.items():
            if 'mem' in key or 'rss' in key or 'saved' in key:
                memory[key] = max(memory.get(key, 0.0), float(value))
    peaks = sorted(k for k in memory
                   if 'peak' in k and 'mem' in k and 'rss' not in k)
    choice = peaks or [k for k in MEMORY_PREFERENCE if k in memory]
    if not choice:
        raise KeyError(f'no memory scalar in the training log: '
                       f'{sorted(entries[-1]) if entries else []}')
    return memory, choice[0]


def file_sha1(path):
    """SHA-1 of the file at ``path`` (hex): records name the pretrained
    checkpoint they started from, so a regenerated one can be compared."""
    digest = hashlib.sha1()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _cpu_model():
    """The CPU's model name from ``/proc/cpuinfo`` (None elsewhere)."""
    try:
        with open('/proc/cpuinfo') as f:
            return next((line.split(':', 1)[1].strip() for line in f
                         if line.startswith('model name')), None)
    except OSError:
        return None


def machine():
    """Where and under what load a run ran."""
    import torch
    device = (torch.cuda.get_device_name(0) if torch.cuda.is_available()
              else f'cpu ({os.cpu_count()} cores)')
    return dict(hostname=socket.gethostname(), platform=platform.platform(),
                device=device, cpu=_cpu_model(),
                cpu_capability=torch.backends.cpu.get_cpu_capability(),
                torch=torch.__version__,
                mmdet=version('mmdet'), mmseg=version('mmsegmentation'),
                mmengine=version('mmengine'), nice=os.nice(0),
                omp_threads=RUN_ENV.get('OMP_NUM_THREADS', 'default'))


def run_one(root, settings):
    """Train one run in ``root/runs/<task>/<method>_seed<s>_<hash>`` (wiped
    first, so an interrupted run restarts cleanly), test it on the test and
    the selection splits; return its record."""
    key = settings_hash(settings)
    task = settings['task']
    work_dir = osp.join(root, 'runs', task,
                        f"{settings['method']}_seed{settings['seed']}_{key}")
    shutil.rmtree(work_dir, ignore_errors=True)
    os.makedirs(work_dir)
    config = osp.join(work_dir, 'config.py')
    with open(config, 'w') as f:
        f.write(run_config(settings))
    load_start = os.getloadavg()
    start = time.time()
    cpu_s = _run([sys.executable, osp.join(ROOT, 'tools/train.py'), config,
                  '--work-dir', work_dir], root,
                 osp.join(work_dir, 'train.log'))
    train_wall = time.time() - start
    ckpt = last_checkpoint(work_dir, settings)
    test_start = time.time()
    _run([sys.executable, osp.join(ROOT, 'tools/test.py'), config, ckpt,
          '--work-dir', osp.join(work_dir, 'test')], root,
         osp.join(work_dir, 'test.log'))
    test_wall = time.time() - test_start
    metrics, raw = _metrics(task, osp.join(work_dir, 'test'))
    select_metrics = evaluate_selection(root, work_dir, settings)
    scalars = _scalars(work_dir)
    entries = [e for e in scalars if 'step_time' in e]
    extra = {}
    if task == 'seg':
        with open(osp.join(work_dir, 'test.log')) as f:
            extra['per_class_iou'] = per_class_iou(f.read())[-1]
    if settings.get('curve'):
        extra['curve'] = learning_curve(
            task, scalars, osp.join(work_dir, 'train.log'),
            settings['curve'], settings['iters'])
    memory, memory_key = _memory(entries)
    steps = [e['step_time'] for e in entries[1:] or entries]
    with open(osp.join(work_dir, 'trainable_params.json')) as f:
        params = json.load(f)
    return dict(
        hash=key, task=task, method=settings['method'],
        seed=settings['seed'], settings=settings,
        metrics=metrics, raw_metrics=raw, select_metrics=select_metrics,
        select_data=selection_data(settings['data'], task),
        params=dict(backbone_trainable=params['backbone']['trainable'],
                    backbone_total=params['backbone']['total'],
                    backbone_share=params['backbone']['trainable_share'],
                    all_trainable=params['all']['trainable'],
                    all_total=params['all']['total']),
        memory_mb=memory[memory_key], memory_key=memory_key,
        memory_all_mb=memory, step_time_s=statistics.median(steps),
        train_cpu_s=cpu_s, cpu_s_per_iter=cpu_s / settings['iters'],
        train_wall_s=train_wall, test_wall_s=test_wall,
        pretrained_sha1=file_sha1(osp.join(root, CHECKPOINT)),
        machine=dict(machine(), loadavg_start=load_start,
                     loadavg_end=os.getloadavg()),
        finished_at=time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime()),
        work_dir=osp.relpath(work_dir, root), **extra)


def remeasure_selection(root, record):
    """``record`` with ``select_metrics`` on the current selection split of
    its task, the earlier ones kept under ``earlier_selection``: its
    checkpoint tested there, or, when the checkpoint is gone, the run made
    again (``rerun_of``: what ``replaced`` keeps of the replaced run)."""
    earlier = None if 'select_metrics' not in record else dict(
        select_metrics=record['select_metrics'],
        select_data=record_selection_data(record))
    settings = record['settings']
    work_dir = osp.join(root, record['work_dir'])
    if osp.exists(last_checkpoint(work_dir, settings)):
        record = dict(record, select_metrics=evaluate_selection(
            root, work_dir, settings),
            select_data=selection_data(settings['data'], settings['task']))
    else:
        record = dict(run_one(root, settings), rerun_of=replaced(record))
    if earlier:
        record['earlier_selection'] = earlier
    return record
