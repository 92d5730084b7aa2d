"""E3VA+ variants the study runs beside the paper's methods: named tuning
configs (Swin-B budgets, scaled by the study)."""
# The default, then E3VA plus one addition at a time (``-msdw``: Mona's
# 3/5/7 filters in place of ``-dw``'s 3x3), then everything.
E3VA_PLUS_ABLATIONS = {
    'E3VAPlus': dict(type='E3VAPlus'),
    'E3VAPlus-dw': dict(type='E3VAPlus', rank=20, dwconv=True,
                        highway_mix=False),
    'E3VAPlus-msdw': dict(type='E3VAPlus', rank=20, dwconv=(3, 5, 7),
                          highway_mix=False),
    'E3VAPlus-rank': dict(type='E3VAPlus', rank=(20, 20, 20, 40),
                          dwconv=False, highway_mix=False),
    'E3VAPlus-gate': dict(type='E3VAPlus', rank=20, dwconv=False, gate=True,
                          highway_mix=False),
    'E3VAPlus-tapin': dict(type='E3VAPlus', rank=20, dwconv=False,
                           tap_input=True, highway_mix=False),
    'E3VAPlus-mix': dict(type='E3VAPlus', rank=20, dwconv=False,
                         highway_mix=True),
    'E3VAPlus-all': dict(type='E3VAPlus', rank=(20, 20, 20, 40),
                         dwconv=True, gate=True, tap_input=True,
                         highway_mix=True),
}
