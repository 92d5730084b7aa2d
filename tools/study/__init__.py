"""The CPU-scale study of every tuning method (tools/analysis/mini_study.py):
protocol, records, learning-rate sweeps, calibration, report and ablation."""
