"""The demo configs through the real tools/train.py and tools/test.py:
train, checkpoint, resume on torch>=2.6 (weights_only), test."""
import pytest
import torch

from conftest import DET_DEMO, SEG_DEMO, run_tool

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
    assert 'E3VASwinTransformer: loaded' in out
    assert metric in out  # validation ran at the end of training
    state = torch.load(work / 'iter_4.pth', map_location='cpu')['state_dict']
    # Adapter-only checkpoint: no frozen Swin weights, trained adapters.
    assert not any(k.startswith('backbone.stages.') for k in state)
    up2 = [v for k, v in state.items() if k.endswith('.up2.weight')]
    assert up2 and all(v.abs().sum() > 0 for v in up2)

    out = run_tool('train.py', config, '--work-dir', work, '--resume',
                   work / 'iter_2.pth', *SHORT, cwd=workspace)
    assert 'resumed epoch: 0, iter: 2' in out
    assert 'Iter(train) [3/4]' in out and 'Iter(train) [1/4]' not in out

    out_path = work / ('preds.pkl' if config == DET_DEMO else 'pred_maps')
    show_dir = work / 'vis'
    out = run_tool('test.py', config, work / 'iter_4.pth', '--work-dir',
                   work / 'test', '--out', out_path, '--show-dir', show_dir,
                   '--cfg-options', 'default_hooks.visualization.interval=1',
                   cwd=workspace)
    assert f'{metric}:' in out
    if config == DET_DEMO:  # as upstream: a pickle and painted JPEGs
        assert out_path.is_file() and out_path.stat().st_size > 0
        painted = list(show_dir.rglob('*.jpg'))
    else:  # as upstream: prediction PNGs; images in the visualizer dir
        assert len(list(out_path.glob('*.png'))) == 4  # one per val image
        painted = list(show_dir.rglob('*.png'))
    assert len(painted) == 4
