"""Reports trainable vs total parameters when training starts."""
import json
import os.path as osp

from mmengine.dist import master_only
from mmengine.hooks import Hook

from ...registry import register_hook
from ...utils import format_report, parameter_report


@register_hook
class TrainableParamsHook(Hook):
    """Logs, PEFT-style, trainable and total parameters and the trainable
    share for backbone (adapters), neck, head and all, and writes the same
    numbers to ``<work_dir>/<out_file>``.

    Args:
        out_file (str): JSON file name in the work dir.
    """

    priority = 'VERY_LOW'

    def __init__(self, out_file='trainable_params.json'):
        self.out_file = out_file

    @master_only
    def before_train(self, runner):
        counts = parameter_report(runner.model)
        runner.logger.info('Trainable parameters\n' + format_report(counts))
        with open(osp.join(runner.work_dir, self.out_file), 'w') as f:
            json.dump(counts, f, indent=2)
