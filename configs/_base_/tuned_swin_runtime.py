# What every config of the project declares, so that MMDetection's and
# MMSegmentation's own tools/train.py and tools/test.py (and `mim train`)
# run it as the project's tools do: the plugin's modules; a runner that
# checks the data and checkpoint paths up front, naming the config key, and
# trains distributed on CPU-only torch; and the hooks: the trainable-parameter
# report, memory and time per iteration, refusal of a checkpoint that does
# not match the model, and the random states that make a resumed run
# bitwise equal to an uninterrupted one.
custom_imports = dict(imports=['mmdet_e3va'], allow_failed_imports=False)
runner_type = 'CheckedRunner'
custom_hooks = [
    dict(type='TrainableParamsHook'),
    dict(type='EfficiencyHook'),
    dict(type='CheckpointMatchHook'),
    dict(type='RandomStateHook'),
]
