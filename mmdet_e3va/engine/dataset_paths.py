"""An up-front check that the data sets a config points at exist."""
import os.path as osp


def _check_dataset(dataset, key):
    if 'dataset' in dataset:  # RepeatDataset, ClassBalancedDataset, ...
        _check_dataset(dataset['dataset'], f'{key}.dataset')
    for i, sub in enumerate(dataset.get('datasets', [])):  # ConcatDataset
        _check_dataset(sub, f'{key}.datasets.{i}')
    root = dataset.get('data_root') or ''
    if '://' in root:
        return
    if root and not osp.isdir(root):
        raise FileNotFoundError(f'{key}.data_root: {root} does not exist')
    ann_file = dataset.get('ann_file') or ''
    path = osp.join(root, ann_file)
    if ann_file and '://' not in ann_file and not osp.isfile(path):
        raise FileNotFoundError(f'{key}.ann_file: {path} does not exist')


def check_dataset_paths(cfg, loaders):
    """Raise ``FileNotFoundError`` naming the config key and the path of the
    first local ``data_root``/``ann_file`` (of the datasets of ``loaders``,
    e.g. ``('train_dataloader', 'val_dataloader')``, and of their
    evaluators) that does not exist."""
    for loader in loaders:
        if cfg.get(loader):
            _check_dataset(cfg[loader]['dataset'], f'{loader}.dataset')
        key = loader.replace('dataloader', 'evaluator')
        metrics = cfg.get(key) or []
        for metric in metrics if isinstance(metrics, list) else [metrics]:
            ann_file = metric.get('ann_file') or ''
            if ann_file and '://' not in ann_file and not osp.isfile(ann_file):
                raise FileNotFoundError(
                    f'{key}.ann_file: {ann_file} does not exist')
