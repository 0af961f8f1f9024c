"""A hostile user's pass over the launcher: every bad value, file and checkpoint is one line.

Config values are checked in-process (the same `check_config` the launcher runs before
building anything); failures whose one-line output is the point run the launcher as a
subprocess. Checkpoints that cannot be read are reported, kept byte for byte, and the
run falls back to the newest readable one.
"""
import glob
import os
import sys

import pytest

from bigmodel_jax.engine import trainer
from bigmodel_jax.engine.checkpoints import Checkpointer
from bigmodel_jax.errors import CheckpointError, ConfigError
from bigmodel_jax.config.validate import check_config
from bigmodel_jax.workloads import get_workload
from conftest import REPO, copy_run, file_checksums, launch, load_config, make_config, one_error_line


@pytest.mark.parametrize("dotted, value, allowed", [
    ("optimizer.learning_rate", -1.0, "> 0"),
    ("optimizer.learning_rate", float("nan"), "> 0"),
    ("optimizer.b2", 1.0, "[0.0, 1.0)"),
    ("optimizer.weight_decay", -0.1, ">= 0"),
    ("optimizer.warmup_steps", -5, ">= 0"),
    ("model.dropout", 2.0, "[0.0, 1.0)"),
    ("model.padding", "FULL", "['SAME', 'VALID']"),
    ("model.kernel_size", 0, ">= 1"),
    ("model.features", (16, -4), "sequence of an integer >= 1"),
    ("model.dtype", "float8", "one of"),
    ("checkpoint.keep", 0, ">= 1"),
    ("checkpoint.every_steps", 0, ">= 1"),
    ("train.batch_size", 0, ">= 1"),
    ("train.batch_size", -8, ">= 1"),
    ("train.log_every_steps", 0, ">= 1"),
    ("train.eval_every_steps", 0, "-1 or an integer >= 1"),
    ("train.num_steps", -3, "-1 or an integer >= 1"),
    ("train.steps_per_dispatch", 0, ">= 1"),
    ("eval.batch_size", 0, ">= 1"),
    ("mesh.model", 0, ">= 1"),
    ("data.validation_size", -1, ">= 0"),
    ("data.crop_padding", -2, ">= 0"),
    ("supervised.label_smoothing", 1.5, "[0.0, 1.0)"),
    ("optimizer.name", "adagrad", "one of ['adam', 'adamw', 'rmsprop', 'sgd']"),
])
def test_bad_config_value_names_key_value_and_what_is_allowed(dotted, value, allowed):
  config = make_config("cnn_digits", **{dotted: value})
  with pytest.raises(ConfigError) as error:
    check_config(config, get_workload(config.workload))
  message = str(error.value)
  assert message.startswith(f"{dotted}=") and allowed in message and "\n" not in message


def test_every_shipped_config_passes_its_own_checks():
  for path in glob.glob(os.path.join(REPO, "configs", "*.py")):
    config = load_config(os.path.basename(path)[:-3])
    check_config(config, get_workload(config.workload))


@pytest.mark.slow
def test_launcher_rejects_a_bad_value_before_building_anything(tmp_path):
  workdir = tmp_path / "run"
  line = one_error_line(launch("--config=configs/cnn_digits.py:tiny", f"--workdir={workdir}",
                                 "--config.optimizer.learning_rate=-1.0"))
  assert line == "error: optimizer.learning_rate=-1.0 is not allowed; expected a finite number > 0"
  assert not os.path.exists(workdir)   # Nothing was created.


@pytest.mark.slow
@pytest.mark.parametrize("config_arg, expected", [
    ("configs/does_not_exist.py", "no such file 'configs/does_not_exist.py'"),
    ("configs/cnn_digits.py:nope", "unknown variant 'nope'"),
])
def test_launcher_config_file_problems_are_one_line(tmp_path, config_arg, expected):
  line = one_error_line(launch(f"--config={config_arg}", f"--workdir={tmp_path}"))
  assert expected in line and config_arg in line


@pytest.mark.slow
def test_a_config_file_that_fails_to_import_names_its_line(tmp_path):
  broken = tmp_path / "broken.py"
  broken.write_text("import ml_collections\n\ndef get_config(arg=None):\n  return undefined_name\n")
  line = one_error_line(launch(f"--config={broken}", f"--workdir={tmp_path / 'run'}"))
  assert "(line 4)" in line and "NameError" in line
  broken.write_text("def get_config(arg=None):\n  return {\n")
  line = one_error_line(launch(f"--config={broken}", f"--workdir={tmp_path / 'run'}"))
  assert "(line 2)" in line and "SyntaxError" in line


@pytest.mark.slow
def test_a_mesh_that_leaves_devices_idle_is_refused(tmp_path):
  line = one_error_line(launch("--config=configs/cnn_digits.py:tiny", f"--workdir={tmp_path}",
                                 "--config.mesh.model=3", devices=8))
  assert "mesh.model=3 does not divide the 8 devices, so 2 would be idle" in line


@pytest.mark.slow
def test_traceback_on_request(tmp_path):
  result = launch("--config=configs/cnn_digits.py:tiny", f"--workdir={tmp_path}", "--config.model.dropout=2.0",
                   env_extra={"BIGMODEL_TRACEBACK": "1"})
  assert result.returncode == 1 and "Traceback" in result.stderr and "error: model.dropout=2.0" in result.stderr


def _corrupt_arrays(step_dir) -> None:
  """Flips the first bytes of every array data file of a checkpoint step."""
  for path in glob.glob(os.path.join(step_dir, "state", "ocdbt.process_0", "d", "*")):
    with open(path, "r+b") as f:
      head = bytearray(f.read(64))
      f.seek(0)
      f.write(bytes(b ^ 0xFF for b in head))


@pytest.mark.slow
def test_corrupt_latest_checkpoint_falls_back_and_is_kept(digits_run, tmp_path):
  workdir, straight = copy_run(digits_run[0], tmp_path / "run"), digits_run[1]   # Checkpoints at 8, 16.
  _corrupt_arrays(os.path.join(workdir, "checkpoints", "16"))
  damaged = file_checksums(os.path.join(workdir, "checkpoints", "16"))
  result = launch("--config=configs/cnn_digits.py:tiny", f"--workdir={workdir}", "--mode=eval")
  assert result.returncode == 0, result.stderr[-2000:]
  warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
  assert len(warnings) == 1 and "step 16" in warnings[0] and "corrupt or incomplete" in warnings[0]
  assert "at step 8" in result.stdout and "Traceback" not in result.stderr
  assert file_checksums(os.path.join(workdir, "checkpoints", "16")) == damaged   # Eval touches nothing.
  # Resuming moves it aside untouched and trains from step 8 to the same result.
  resumed = trainer.train_and_evaluate(load_config("cnn_digits", "tiny"), workdir)
  assert file_checksums(os.path.join(workdir, "checkpoints_unreadable", "16")) == damaged
  assert resumed["test"] == pytest.approx(straight["test"])
  assert Checkpointer(workdir, keep=2, read_only=True).all_steps() == [8, 16]


@pytest.mark.slow
def test_no_readable_checkpoint_is_one_line_and_keeps_them_all(digits_run, tmp_path):
  workdir = copy_run(digits_run[0], tmp_path / "run")
  for step in ("8", "16"):
    _corrupt_arrays(os.path.join(workdir, "checkpoints", step))
  before = file_checksums(workdir + "/checkpoints")
  line = one_error_line(launch("--config=configs/cnn_digits.py:tiny", f"--workdir={workdir}", "--mode=eval"))
  assert "no readable checkpoint" in line
  assert file_checksums(workdir + "/checkpoints") == before


def test_checkpoint_with_other_shapes_is_refused_not_skipped(digits_run, tmp_path):
  config = make_config("cnn_digits", **{"train.ema_decay": 0.99})   # EMA parameters the checkpoint does not have.
  with pytest.raises(CheckpointError, match="does not fit this run: it has no train_state/ema_params"):
    trainer.train_and_evaluate(config, copy_run(digits_run[0], tmp_path / "run"), mode="eval")


class _Pending:
  def __await__(self):
    yield


def _suspended_coroutine_raising_on_close(filename: str):
  """A suspended coroutine defined in `filename` that raises when closed, as Orbax's reads do."""
  source = ("async def read(pending):\n"
            "  try:\n"
            "    await pending\n"
            "  except BaseException as e:\n"
            "    raise Exception('read abandoned') from e\n")
  namespace = {}
  exec(compile(source, filename, "exec"), namespace)
  coroutine = namespace["read"](_Pending())
  coroutine.send(None)
  return coroutine


@pytest.mark.parametrize("filename, printed", [
    (os.path.join(os.sep, "site-packages", "orbax", "serialization.py"), False),
    (os.path.join(os.sep, "site-packages", "mylib", "reader.py"), True),
])
def test_launcher_drops_only_abandoned_orbax_reads(filename, printed, capsys, monkeypatch):
  from launch import main as launcher
  monkeypatch.setattr(sys, "unraisablehook", launcher._quiet_abandoned_checkpoint_reads)
  coroutine = _suspended_coroutine_raising_on_close(filename)
  del coroutine   # Collected while suspended: its close() raises, which Python reports as unraisable.
  assert ("read abandoned" in capsys.readouterr().err) == printed


def _unraisable_args_type():
  seen = []
  previous, sys.unraisablehook = sys.unraisablehook, seen.append

  class RaisesWhenCollected:
    def __del__(self):
      raise RuntimeError

  try:
    RaisesWhenCollected()
  finally:
    sys.unraisablehook = previous
  return type(seen[0])


@pytest.mark.parametrize("message, printed", [("Event loop is closed", False), ("another failure", True)])
def test_launcher_drops_only_posts_to_a_closed_loop(message, printed, capsys, monkeypatch):
  from launch import main as launcher
  monkeypatch.setattr(sys, "unraisablehook", launcher._quiet_abandoned_checkpoint_reads)

  def call_soon_threadsafe():
    raise RuntimeError(message)

  try:
    call_soon_threadsafe()
  except RuntimeError as e:
    error = e
  # As TensorStore reports it: no object, the traceback starting in call_soon_threadsafe.
  sys.unraisablehook(_unraisable_args_type()(
      (RuntimeError, error, error.__traceback__.tb_next, None, None)))
  assert (message in capsys.readouterr().err) == printed
