"""Host-side helpers of the loop: stop signals (agreed across processes), a watchdog that reports
a dispatch that runs long, and a prefetching thread."""
import contextlib
import queue
import signal
import sys
import threading
import time
from typing import Optional

import jax
import numpy as np
from jax.experimental import multihost_utils

from bigmodel_jax.errors import STOP_EXIT_STATUS


class StoppedOutsideTraining(Exception):
  """SIGTERM / Ctrl-C while no train step was running (start-up, a mode, the final report)."""

  def __init__(self, signal_name: str):
    super().__init__(f"{signal_name}: stopped outside the train loop; every checkpoint written so far is "
                     f"kept; rerun the same command to continue")
    self.exit_status = STOP_EXIT_STATUS[signal_name]


def _raise_stopped(signum, frame):
  del frame
  raise StoppedOutsideTraining(signal.Signals(signum).name)


def stop_on_signals_outside_training() -> None:
  """From now on SIGTERM and Ctrl-C end the process through StoppedOutsideTraining (so the
  launcher exits with the documented status in one line); the train loop takes them over while it
  runs (`StopSignals`). One process only: with several, SIGTERM belongs to JAX's preemption sync."""
  if threading.current_thread() is threading.main_thread() and jax.process_count() == 1:
    for sig in (signal.SIGTERM, signal.SIGINT):
      signal.signal(sig, _raise_stopped)


class StopSignals:
  """Turns SIGTERM / SIGINT into a stop the loop checks after each dispatch (main thread only).

  One process: both are caught here. Several processes: a stop must happen at the same
  step everywhere, or the others would wait forever in the next collective. SIGTERM is
  left to JAX's preemption notifier (`jax.distributed` installs it): a signal to any
  process makes every process reach `reached_preemption_sync_point` at the same step.
  SIGINT is caught here and agreed on with an all-gather at each `sync` dispatch.
  """

  def __init__(self):
    self.received = None
    self._previous = {}
    self._multi = jax.process_count() > 1

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for sig in (signal.SIGINT,) if self._multi else (signal.SIGTERM, signal.SIGINT):
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def stop_requested(self, step: int, sync: bool) -> Optional[str]:
    """The signal to stop for at `step` (the same on every process), or None.

    Every process must call this after every dispatch with the same `step` and `sync`.
    """
    if not self._multi:
      return self.received
    if multihost_utils.reached_preemption_sync_point(step):
      return "SIGTERM"
    if sync:
      anyone = multihost_utils.process_allgather(np.int32(self.received is not None))
      if np.any(anyone):
        return "SIGINT"
    return None

  def _handle(self, signum, frame):
    del frame
    self.received = signal.Signals(signum).name

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)


class Watchdog:
  """Reports, once per wait, the host waiting longer than `limit_s` on the devices (a compilation,
  or steps that run long). Nothing is interrupted: a stop signal takes effect when the wait ends.

    with watchdog.waiting("steps 1-300 to finish"):
      jax.device_get(...)
  """

  def __init__(self, limit_s: float):
    self.limit_s = limit_s
    self._lock, self._wait, self._stop = threading.Lock(), None, threading.Event()
    self.reported = []   # (what, seconds) of every wait reported.

  def __enter__(self):
    threading.Thread(target=self._watch, daemon=True).start()
    return self

  def __exit__(self, *exc):
    self._stop.set()

  @contextlib.contextmanager
  def waiting(self, what: str):
    with self._lock:
      self._wait = [what, time.monotonic(), False]
    try:
      yield
    finally:
      with self._lock:
        self._wait = None

  def _watch(self) -> None:
    while not self._stop.wait(min(1.0, self.limit_s / 4)):
      with self._lock:
        if self._wait is None or self._wait[2] or time.monotonic() - self._wait[1] < self.limit_s:
          continue
        self._wait[2] = True
        what, seconds = self._wait[0], time.monotonic() - self._wait[1]
      self.reported.append((what, seconds))
      print(f"warning: waited {seconds:.0f} s for {what} (train.slow_dispatch_s={self.limit_s:g}); still "
            f"waiting; a stop signal takes effect when it ends", file=sys.stderr, flush=True)


def prefetch(iterator, size: int = 2):
  """Assembles the next host batches on a thread while the devices run the current step."""
  buffer, stop, done = queue.Queue(maxsize=size), threading.Event(), object()

  def put(item) -> bool:
    while not stop.is_set():
      try:
        buffer.put(item, timeout=0.1)
        return True
      except queue.Full:
        continue
    return False

  def fill():
    try:
      for item in iterator:
        if not put(item):
          return
    except Exception as e:  # Handed to the consumer, which re-raises it.
      put(e)
    put(done)

  threading.Thread(target=fill, daemon=True).start()
  try:
    while (item := buffer.get()) is not done:
      if isinstance(item, Exception):
        raise item
      yield item
  finally:  # The consumer stopped early (StopTraining, an error): let the thread end.
    stop.set()
