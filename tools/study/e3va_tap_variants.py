"""E3VA with its taps kept for backward at lower precision (``tap_dtype``):
the same function as E3VA, so they run at E3VA's selected lr multiplier
(:data:`LR_FROM`) instead of a sweep of their own."""
E3VA_TAP_VARIANTS = {
    'E3VA+tap-bf16': dict(type='E3VA', tap_dtype='bf16'),
    'E3VA+tap-int8': dict(type='E3VA', tap_dtype='int8'),
}
# method -> the method whose lr selection it takes
LR_FROM = {name: 'E3VA' for name in E3VA_TAP_VARIANTS}
