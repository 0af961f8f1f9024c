"""bigmodel_jax: JAX/Flax research workloads sharing one training path."""
