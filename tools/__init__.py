"""The project's tools, importable as ``tools.*`` when run from the
repository root (scripts under tools/ put the root on ``sys.path``)."""
