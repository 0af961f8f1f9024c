r"""Trains or evaluates one experiment.

  python -m launch.main --config=configs/cnn_fashion_mnist.py --workdir=runs/cnn
  python -m launch.main --config=configs/cnn_fashion_mnist.py:tiny --workdir=runs/tiny \
      --config.optimizer.learning_rate=3e-4
  python -m launch.main --config=configs/cnn_fashion_mnist.py --workdir=runs/cnn --mode=eval

Run again with the same --workdir to resume from its latest checkpoint. For a
multi-process launch (several hosts, or one process per GPU) add --distributed.
"""
import sys

import jax
from absl import app, flags, logging
from ml_collections import config_flags

from bigmodel_jax.errors import UserError
from bigmodel_jax.trainer import train_and_evaluate
from launch import xla_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file (path[:variant]).",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics, plots and summary.json.")
_MODE = flags.DEFINE_enum("mode", "train", ["train", "eval"], "train (resumes if possible) or eval only.")
_DISTRIBUTED = flags.DEFINE_bool("distributed", False, "Call jax.distributed.initialize() first.")
flags.mark_flags_as_required(["config", "workdir"])


def parse_flags(argv):
  """absl's flag parsing, with a bad --config override reported as one line (not a traceback)."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    print(f"error: {e}", file=sys.stderr)
  except (AttributeError, KeyError) as e:  # ml_collections: an override of a key that does not exist.
    while isinstance(e, Exception) and e.args:  # Unwrap AttributeError(KeyError("...")).
      e = e.args[0]
    detail = ". ".join(line.strip("'\"") for line in str(e).splitlines())
    print(f"error: a --config override names a key the config file does not declare: {detail}",
          file=sys.stderr)
  sys.exit(1)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  xla_flags.set_defaults()  # Before the first use of a device.
  if _DISTRIBUTED.value:
    jax.distributed.initialize()
  # Orbax logs every checkpoint step at INFO; pass --verbosity=0 to see it.
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)
  print(f"devices: {jax.devices()}")
  try:
    summary = train_and_evaluate(_CONFIG.value, _WORKDIR.value, _MODE.value)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
  print(f"test metrics at step {summary['step']}: {summary['test']} ({summary['wall_time_s']:.0f}s)")


if __name__ == "__main__":
  app.run(main, flags_parser=parse_flags)
