"""The interface every tuning method implements, and the upstream Swin
forward with a pluggable block function that most methods build on."""
import torch.utils.checkpoint as cp
from mmdet.models.backbones.swin import SwinTransformer
from mmengine.model import BaseModule


def run_block(block, block_forward, x, hw_shape):
    """``block_forward(block, x, hw_shape)``, checkpointed when the block
    was built with ``with_cp`` (as upstream ``SwinBlock`` does)."""
    if block.with_cp and x.requires_grad:
        return cp.checkpoint(block_forward, block, x, hw_shape,
                             use_reentrant=False)
    return block_forward(block, x, hw_shape)


def swin_forward(swin, x, block_forward):
    """Upstream ``SwinTransformer.forward`` with every block run as
    ``block_forward(block, x, hw_shape, stage_index, block_index)``.
    ``(B, 3, H, W)`` -> one ``(B, C_s, H_s, W_s)`` map per out index."""
    x, hw_shape = swin.patch_embed(x)
    if swin.use_abs_pos_embed:
        x = x + swin.absolute_pos_embed
    x = swin.drop_after_pos(x)
    outs = []
    for i, stage in enumerate(swin.stages):
        for j, block in enumerate(stage.blocks):
            x = run_block(
                block,
                lambda b, y, hw, i=i, j=j: block_forward(b, y, hw, i, j), x,
                hw_shape)
        if i in swin.out_indices:
            out = getattr(swin, f'norm{i}')(x)
            outs.append(
                out.view(-1, *hw_shape, swin.num_features[i]).permute(
                    0, 3, 1, 2).contiguous())
        if stage.downsample is not None:
            x, hw_shape = stage.downsample(x, hw_shape)
    return outs


def branch_forward(block, x, hw_shape, attn_fn=None, mlp_fn=None):
    """An upstream ``SwinBlock`` with its (S)W-MSA and MLP branch outputs
    (``(B, H*W, C)``, before the residual adds) replaced by
    ``attn_fn(branch, branch_input)`` / ``mlp_fn(branch, branch_input)``,
    where ``branch_input`` is what the branch read (after its LayerNorm).
    Without functions it equals ``block(x, hw_shape)`` bitwise."""
    attn_in = block.norm1(x)
    attn = block.attn(attn_in, hw_shape)
    if attn_fn is not None:
        attn = attn_fn(attn, attn_in)
    x = x + attn
    mlp_in = block.norm2(x)
    # identity=0 makes mmcv's FFN return its branch without the residual.
    mlp = block.ffn(mlp_in, identity=0)
    if mlp_fn is not None:
        mlp = mlp_fn(mlp, mlp_in)
    return x + mlp


class BaseTuning(BaseModule):
    """A parameter-efficient tuning method for an upstream Swin.

    A method (1) builds its trainable modules as children of itself (their
    state-dict keys start with ``tuning.``) in :meth:`attach`, sized to the
    Swin; (2) names which of the Swin's own parameters train in
    :meth:`swin_param_trainable`; (3) runs the Swin in :meth:`forward_swin`.
    :class:`TunedSwinTransformer` applies (2) once, at construction, to every
    parameter: ``requires_grad = name.startswith('tuning.') or
    swin_param_trainable(name)``.

    Attributes:
        frozen_eval (bool): Keep Swin modules without trainable parameters
            in eval mode (no drop path or dropout) during training.
        identity_at_init (bool): The tuned Swin starts equal to the frozen
            one (zero-initialised outputs).
    """

    frozen_eval = False
    identity_at_init = True

    def attach(self, swin):
        """Build the method's modules for ``swin``."""

    def swin_param_trainable(self, name):
        """Whether the Swin parameter ``name`` trains. Default: none."""
        return False

    def forward_swin(self, swin, x):
        """Default: the upstream forward."""
        return SwinTransformer.forward(swin, x)

    def forward(self, *args, **kwargs):
        raise RuntimeError('a tuning method runs through forward_swin')
