"""The demo configs through the real tools/train.py and tools/test.py:
train, checkpoint, resume on torch>=2.6 (weights_only), test, the painted
predictions and the progress lines tools/demo.sh shows."""
import mmcv
import pytest
import torch

from conftest import DET_DEMO, SEG_DEMO, run_tool
from tools.log_progress import progress_line

SHORT = ('--cfg-options', 'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
         'default_hooks.checkpoint.interval=2',
         'default_hooks.logger.interval=1')


@pytest.mark.parametrize('config, metric', [
    (DET_DEMO, 'coco/segm_mAP'),
    (SEG_DEMO, 'mIoU'),
], ids=['cascade-mask-rcnn', 'upernet'])
def test_train_resume_test(workspace, config, metric):
    work = workspace / 'work_dirs' / config.stem
    out = run_tool('train.py', config, '--work-dir', work, *SHORT,
                   cwd=workspace)
    assert 'TunedSwinTransformer: loaded' in out
    assert metric in out  # validation ran at the end of training
    # What tools/demo.sh shows of the log: iteration, loss, ETA; metrics.
    progress = [p for p in map(progress_line, out.splitlines()) if p]
    train = [p.split('  ') for p in progress if p.startswith('train ')]
    assert [p[0] for p in train] == [f'train {i}/4' for i in range(1, 5)]
    assert all(p[1].startswith('loss ') and p[2].startswith('eta ')
               for p in train)
    assert progress[-1].startswith('val 4/4  ')
    assert f'{metric}: ' in progress[-1]
    state = torch.load(work / 'iter_4.pth', map_location='cpu',
                       weights_only=True)['state_dict']
    # Adapter-only checkpoint: no frozen Swin weights, trained adapters.
    assert not any(k.startswith('backbone.stages.') for k in state)
    up2 = [v for k, v in state.items() if k.endswith('.up2.weight')]
    assert up2 and all(v.abs().sum() > 0 for v in up2)

    out = run_tool('train.py', config, '--work-dir', work, '--resume',
                   work / 'iter_2.pth', *SHORT, cwd=workspace)
    assert 'resumed epoch: 0, iter: 2' in out
    assert 'Iter(train) [3/4]' in out and 'Iter(train) [1/4]' not in out

    # As tools/demo.sh paints pictures: the first val images only.
    out_path = work / ('preds.pkl' if config == DET_DEMO else 'pred_maps')
    show_dir = work / 'vis'
    out = run_tool('test.py', config, work / 'iter_4.pth', '--work-dir',
                   work / 'test', '--out', out_path, '--show-dir', show_dir,
                   '--cfg-options', 'default_hooks.visualization.interval=1',
                   'test_dataloader.dataset.indices=2', cwd=workspace)
    assert f'{metric}:' in out
    if config == DET_DEMO:  # as upstream: a pickle and painted JPEGs
        assert out_path.is_file() and out_path.stat().st_size > 0
        painted = list(show_dir.rglob('*.jpg'))
    else:  # as upstream: prediction PNGs; images in the visualizer dir
        assert len(list(out_path.glob('*.png'))) == 2  # one per image
        painted = list(show_dir.rglob('*.png'))
    assert len(painted) == 2
    for path in painted:  # ground truth and prediction side by side
        height, width = mmcv.imread(str(path)).shape[:2]
        assert (height, width) == (96, 192)
