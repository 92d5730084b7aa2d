"""highway_share: the highway's norm against the frozen stage output, zero
at initialisation, and the frozen part independent of the adapters."""
import pytest
import torch

from tools.benchmark.highway_share import highway_share
from mmdet_e3va.models import TunedSwinTransformer
from tools.study.e3va_plus_variants import E3VA_PLUS_ABLATIONS
from test_e3va_backbone import TINY


def build(tuning):
    torch.manual_seed(0)
    model = TunedSwinTransformer(tuning=tuning, **TINY)
    model.init_weights()
    return model.eval()


BATCHES = [torch.randn(2, 3, 64, 64), torch.randn(1, 3, 64, 64)]


@pytest.mark.parametrize('tuning', [
    dict(type='E3VA', rank=4), E3VA_PLUS_ABLATIONS['E3VAPlus-all']
], ids=['E3VA', 'E3VAPlus-all'])
def test_share_is_zero_at_init_and_grows_where_adapters_write(tuning):
    model = build(tuning)
    at_init = highway_share(model, BATCHES)
    assert list(at_init) == ['0', '1', '2', '3']
    for stage in at_init.values():
        assert stage['share'] == 0 and stage['rms_h'] == 0
        assert stage['rms_x'] > 0
    # An adapter of stage 1 writes on the highway of stages 1 to 3 (through
    # the frozen PatchMerging), never on stage 0's.
    with torch.no_grad():
        for p in model.tuning.adapters[1][0]['attn'].parameters():
            p.normal_(std=0.1)  # E3VAPlus-all: its gate too
    one = highway_share(model, BATCHES)
    assert one['0']['share'] == 0
    assert all(one[s]['share'] > 0 for s in '123')
    # Every tuning parameter moved (gates, convolutions, highway mixing
    # included): the frozen output x is still that of initialisation.
    with torch.no_grad():
        for name, p in model.tuning.named_parameters():
            if not name.startswith('norm_deltas.'):
                p.add_(torch.randn_like(p), alpha=0.1)
    moved = highway_share(model, BATCHES)
    for s, stage in moved.items():
        assert stage['share'] > 0
        assert stage['rms_x'] == pytest.approx(at_init[s]['rms_x'], rel=1e-5)
        assert stage['share'] == pytest.approx(
            stage['rms_h'] / stage['rms_x'], rel=1e-5)


def test_needs_a_highway():
    with pytest.raises(TypeError, match='E3VA, E3VAPlus'):
        highway_share(build(dict(type='LoRA')), BATCHES)
