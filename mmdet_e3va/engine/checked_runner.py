"""The runner the project's configs declare (``runner_type='CheckedRunner'``),
so that MMDetection's and MMSegmentation's own ``tools/train.py`` and
``tools/test.py`` (and ``mim train``) run them as the project's tools do."""
from mmengine.runner import Runner

from ..registry import register_runner
from .checkpoint_paths import check_checkpoint_paths
from .compile_check import check_compile
from .cpu_distributed import setup_cpu_distributed
from .dataset_paths import check_dataset_paths


@register_runner
class CheckedRunner(Runner):
    """mmengine's ``Runner`` that checks up front, naming the config key,
    that the local checkpoints (``load_from``, ``init_cfg`` checkpoints)
    exist and that ``compile`` is not asked for (:func:`check_compile`)
    before anything is built, and that a loop's data set and
    annotation files exist before the loop builds its data loader; and
    that trains distributed on CPU-only torch (gloo,
    :func:`setup_cpu_distributed`) for ``launcher`` ``pytorch`` or
    ``slurm``."""

    @classmethod
    def from_cfg(cls, cfg):
        check_compile(cfg)
        check_checkpoint_paths(cfg)
        setup_cpu_distributed(cfg, cfg.get('launcher', 'none'))
        return super().from_cfg(cfg)

    def build_train_loop(self, loop):
        check_dataset_paths(self.cfg, ('train_dataloader', ))
        return super().build_train_loop(loop)

    def build_val_loop(self, loop):
        check_dataset_paths(self.cfg, ('val_dataloader', ))
        return super().build_val_loop(loop)

    def build_test_loop(self, loop):
        check_dataset_paths(self.cfg, ('test_dataloader', ))
        return super().build_test_loop(loop)
