"""E3VA Swin Transformer with the E3VA options as backbone arguments."""
from ...registry import register_model
from .tuned_swin import TunedSwinTransformer


@register_model
class E3VASwinTransformer(TunedSwinTransformer):
    """``TunedSwinTransformer`` with ``tuning=dict(type='E3VA', ...)``,
    taking every argument of upstream ``SwinTransformer`` plus the E3VA
    options (see :class:`mmdet_e3va.models.tuning.E3VATuning`): an upstream
    Swin config becomes E3VA by changing ``type``.

    Args:
        rank (int): Adapter projection rank. Defaults to 20.
        bottleneck_ratio (float): Adapter bottleneck d / C. Defaults to 0.25.
        adapter_scale (float): Adapter output scale. Defaults to 1.
        adapter_act_cfg (dict): Adapter activation. Defaults to GELU.
        frozen_train_mode (bool): Keep the frozen Swin in train mode.
            Defaults to False.
        frozen_dtype (str | None): ``'bf16'`` / ``'fp16'``: store and run
            the frozen Swin in half precision. Defaults to None (fp32).
        tap_dtype (str | None): ``'bf16'`` / ``'fp16'`` / ``'int8'``: the
            precision the adapters' inputs are kept in for backward (the
            forward uses their exact values). Defaults to None (as the
            frozen pass computes them: lossless).
        **kwargs: Upstream ``SwinTransformer`` arguments. ``with_cp`` has no
            effect: nothing back-propagates through the frozen blocks.
    """

    def __init__(self,
                 rank=20,
                 bottleneck_ratio=0.25,
                 adapter_scale=1.0,
                 adapter_act_cfg=dict(type='GELU'),
                 frozen_train_mode=False,
                 frozen_dtype=None,
                 tap_dtype=None,
                 **kwargs):
        super().__init__(
            tuning=dict(
                type='E3VA',
                rank=rank,
                bottleneck_ratio=bottleneck_ratio,
                scale=adapter_scale,
                act_cfg=adapter_act_cfg,
                frozen_train_mode=frozen_train_mode,
                frozen_dtype=frozen_dtype,
                tap_dtype=tap_dtype),
            **kwargs)
