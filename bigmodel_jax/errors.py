"""Errors that are the user's to fix (the launcher prints them as one line and exits 1), and the
exit statuses of a run stopped by a signal."""

# SIGTERM (a scheduler's preemption or `scancel`) exits 0, so the job does not count as failed and a
# requeued copy of the same command resumes; Ctrl-C exits 130 as shells expect.
STOP_EXIT_STATUS = {"SIGTERM": 0, "SIGINT": 130}


class UserError(Exception):
  """Bad input: missing or corrupt data, a bad config, an incompatible checkpoint."""


class DataError(UserError):
  """A dataset could not be found or read."""


class ConfigError(UserError):
  """A config value is unknown, of the wrong type, or impossible on this mesh."""


class CheckpointError(UserError):
  """A checkpoint does not fit the run that tries to restore it."""


class TrainingDiverged(UserError):
  """The loss became NaN or infinite; the last good checkpoint is kept."""
