"""Host-side helpers of the loop: stop signals (agreed across processes) and a prefetching thread."""
import queue
import signal
import threading
from typing import Optional

import jax
import numpy as np
from jax.experimental import multihost_utils

# Exit status of a run stopped by a signal after saving a checkpoint of its step.
# SIGTERM (a scheduler's preemption or `scancel`) exits 0, so the job does not count as
# failed and a requeued copy of the same command resumes; Ctrl-C exits 130 as shells expect.
STOP_EXIT_STATUS = {"SIGTERM": 0, "SIGINT": 130}


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
