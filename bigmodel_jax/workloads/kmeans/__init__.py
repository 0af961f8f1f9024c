"""K-Means clustering: the math (ops.py), the workload and its plots."""
