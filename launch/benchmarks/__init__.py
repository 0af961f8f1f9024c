"""The benchmarks of `python -m launch.benchmark <name>`, one module each, and the harness they share."""
