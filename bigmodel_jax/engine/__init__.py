"""The shared path every workload runs on: trainer, loop, evaluation, sharding, checkpoints, logging."""
