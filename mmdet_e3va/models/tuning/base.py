"""The interface every tuning method implements, with the one Swin forward
that every method runs: upstream ``SwinTransformer.forward`` with override
points (embedding, block, stage output, downsampling) and the branch taps of
a block."""
from mmengine.model import BaseModule


def branch_forward(block, x, hw_shape, attn_fn=None, mlp_fn=None,
                   attn_residual_fn=None, mlp_residual_fn=None):
    """An upstream ``SwinBlock`` with its (S)W-MSA and MLP branch outputs
    (``(B, H*W, C)``, before the residual adds) replaced by
    ``attn_fn(branch, branch_input)`` / ``mlp_fn(branch, branch_input)``,
    where ``branch_input`` is what the branch read (after its LayerNorm),
    and the residual stream after each add replaced by
    ``attn_residual_fn(x)`` / ``mlp_residual_fn(x)``. Without functions it
    equals ``block(x, hw_shape)`` bitwise."""
    attn_in = block.norm1(x)
    attn = block.attn(attn_in, hw_shape)
    if attn_fn is not None:
        attn = attn_fn(attn, attn_in)
    x = x + attn
    if attn_residual_fn is not None:
        x = attn_residual_fn(x)
    mlp_in = block.norm2(x)
    # identity=0 makes mmcv's FFN return its branch without the residual.
    mlp = block.ffn(mlp_in, identity=0)
    if mlp_fn is not None:
        mlp = mlp_fn(mlp, mlp_in)
    x = x + mlp
    if mlp_residual_fn is not None:
        x = mlp_residual_fn(x)
    return x


class BaseTuning(BaseModule):
    """A parameter-efficient tuning method for an upstream Swin.

    A method (1) builds its trainable modules as children of itself (their
    state-dict keys start with ``tuning.``) in :meth:`attach`, sized to the
    Swin; (2) names which of the Swin's own parameters train in
    :meth:`swin_param_trainable`; (3) runs the Swin through
    :meth:`forward_swin`, the upstream forward, changing it only at its
    override points :meth:`embed`, :meth:`run_block`, :meth:`stage_output`,
    :meth:`downsample` and :meth:`num_stages_run` (the state they pass on is
    upstream's ``(B, H*W, C)`` tokens unless a method says otherwise).
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
        """``(B, 3, H, W)`` -> one ``(B, C_s, H_s, W_s)`` map per out index
        (upstream ``SwinTransformer.forward`` through the override points)."""
        x, hw_shape = self.embed(swin, x)
        num_stages = self.num_stages_run(swin)
        outs = []
        for i, stage in enumerate(swin.stages[:num_stages]):
            for j, block in enumerate(stage.blocks):
                x = self.run_block(block, x, hw_shape, i, j)
            if i in swin.out_indices:
                out = self.stage_output(swin, i, x, hw_shape)
                outs.append(
                    out.view(-1, *hw_shape, swin.num_features[i]).permute(
                        0, 3, 1, 2).contiguous())
            if stage.downsample is not None and i + 1 < num_stages:
                x, hw_shape = self.downsample(stage, x, hw_shape)
        return outs

    def num_stages_run(self, swin):
        """How many stages run (upstream: all)."""
        return len(swin.stages)

    def embed(self, swin, x):
        """``(B, 3, H, W)`` -> ``(state, (H_0, W_0))``: patch embedding,
        absolute position embedding and dropout."""
        x, hw_shape = swin.patch_embed(x)
        if swin.use_abs_pos_embed:
            x = x + swin.absolute_pos_embed
        return swin.drop_after_pos(x), hw_shape

    def run_block(self, block, x, hw_shape, stage, index):
        """Block ``index`` of stage ``stage`` (upstream ``SwinBlock``, which
        checkpoints itself when built ``with_cp``)."""
        return block(x, hw_shape)

    def stage_output(self, swin, stage, x, hw_shape):
        """The ``(B, H_s*W_s, C_s)`` output of stage ``stage``: its norm."""
        return getattr(swin, f'norm{stage}')(x)

    def downsample(self, stage, x, hw_shape):
        """The stage's PatchMerging: ``(state, (H_s+1, W_s+1))``."""
        return stage.downsample(x, hw_shape)

    def forward(self, *args, **kwargs):
        raise RuntimeError('a tuning method runs through forward_swin')
