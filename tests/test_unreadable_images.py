"""An image file that is empty, truncated or not an image fails with an
error naming the file and the data set, in training and in testing, through
the data sets of the demo configs and through MMDetection's and
MMSegmentation's own tools."""
import shutil
import subprocess
import sys
from pathlib import Path

import mmdet
import mmseg
import pytest
import torch
from mmdet.registry import MODELS as DET_MODELS
from mmengine.config import Config
from mmengine.registry import DATASETS, init_default_scope

from conftest import DET_DEMO, SEG_DEMO
from mmdet_e3va.engine.unreadable_images import UnreadableImageError

MMSEG_TOOLS = Path(mmseg.__file__).parent / '.mim/tools'
MMDET_TOOLS = Path(mmdet.__file__).parent / '.mim/tools'
ADE_TRAIN = 'data/ade/ADEChallengeData2016/images/training'
COCO_VAL = 'data/coco/val2017'


@pytest.fixture
def data_copy(workspace, tmp_path, monkeypatch):
    """A copy of the workspace's data to break images in; the cwd."""
    shutil.copytree(workspace / 'data', tmp_path / 'data')
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _break(path, how):
    data = path.read_bytes()
    path.write_bytes({'empty': b'', 'truncated': data[:len(data) // 2],
                      'not an image': b'plain text, not an image'}[how])


def _dataset(config, loader):
    cfg = Config.fromfile(config)
    init_default_scope(cfg.default_scope)
    return DATASETS.build(cfg[loader].dataset)


@pytest.mark.parametrize('how', ['empty', 'truncated', 'not an image'])
@pytest.mark.parametrize('config,loader,folder,dataset_type', [
    (SEG_DEMO, 'train_dataloader', ADE_TRAIN, 'ADE20KDataset'),
    (DET_DEMO, 'val_dataloader', COCO_VAL, 'CocoDataset'),
])
def test_unreadable_image_is_named_with_its_data_set(
        data_copy, how, config, loader, folder, dataset_type):
    dataset = _dataset(config, loader)
    index = 1
    path = Path(dataset.get_data_info(index)['img_path'])
    assert folder in str(path)
    _break(path, how)
    with pytest.raises(UnreadableImageError) as err:
        dataset[index]
    message = str(err.value)
    assert f'Unreadable image {path}:' in message
    assert {'empty': 'the file is empty (0 bytes)',
            'truncated': 'it cannot be decoded',
            'not an image': 'it cannot be decoded'}[how] in message
    assert f'sample {index} of data set {dataset_type}' in message
    assert str(dataset.data_root) in message
    assert dataset[0]['inputs'].shape[0] == 3  # the others still load


def _upstream(tools, script, *args, cwd):
    result = subprocess.run(
        [sys.executable, str(tools / script)] + [str(a) for a in args],
        cwd=cwd, capture_output=True, text=True, timeout=900)
    return result.returncode, result.stdout + result.stderr


def test_upstream_train_names_an_empty_image(data_copy, tmp_path):
    """The issue's case: a zero-byte ADE20K image, MMSegmentation's own
    train script, the image loaded in a data-loader worker."""
    image = sorted((data_copy / ADE_TRAIN).glob('*.jpg'))[0]
    image.write_bytes(b'')
    rc, out = _upstream(MMSEG_TOOLS, 'train.py', SEG_DEMO, '--work-dir',
                        tmp_path / 'work', '--cfg-options',
                        'train_cfg.max_iters=2', cwd=data_copy)
    assert rc != 0
    assert 'UnreadableImageError: Unreadable image' in out, out[-4000:]
    assert f'{ADE_TRAIN}/{image.name}: the file is empty' in out
    assert 'of data set ADE20KDataset' in out


def test_upstream_test_names_a_truncated_image(data_copy, tmp_path):
    """A truncated COCO validation image, MMDetection's own test script."""
    model = DET_MODELS.build(Config.fromfile(DET_DEMO).model)
    torch.save(dict(state_dict=model.state_dict(), meta={}),
               tmp_path / 'untrained.pth')
    image = sorted((data_copy / COCO_VAL).glob('*.jpg'))[-1]
    _break(image, 'truncated')
    rc, out = _upstream(MMDET_TOOLS, 'test.py', DET_DEMO,
                        tmp_path / 'untrained.pth', '--work-dir',
                        tmp_path / 'work', cwd=data_copy)
    assert rc != 0
    assert 'UnreadableImageError: Unreadable image' in out, out[-4000:]
    assert f'{COCO_VAL}/{image.name}: it cannot be decoded' in out
    assert 'of data set CocoDataset' in out
