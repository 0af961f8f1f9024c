"""Multi-process start-up: one process per host (or per GPU) through JAX's multi-controller runtime.

Either a cluster manager JAX detects (SLURM, Open MPI, Kubernetes, Cloud TPU) says who
is who, or the launch says it explicitly: a coordinator address (process 0's host and
a free port) plus this process's number out of how many. The explicit values come
from flags or from JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and JAX_PROCESS_ID.
"""
import os
import socket
import time
from typing import Optional

import jax

from bigmodel_jax.errors import UserError

ENV_VARS = {"coordinator_address": "JAX_COORDINATOR_ADDRESS", "num_processes": "JAX_NUM_PROCESSES",
            "process_id": "JAX_PROCESS_ID"}


def explicit_settings(coordinator_address: Optional[str], num_processes: Optional[int],
                      process_id: Optional[int], environ=os.environ) -> Optional[dict]:
  """The explicit launch settings (flags first, then environment), checked; None for auto-detection."""
  values = {"coordinator_address": coordinator_address, "num_processes": num_processes, "process_id": process_id}
  for key, var in ENV_VARS.items():
    if values[key] is None and environ.get(var):
      values[key] = environ[var]
  given = {k for k, v in values.items() if v is not None}
  if not given:
    return None
  if given != set(values):
    missing = sorted(set(values) - given)
    raise UserError(f"an explicit multi-process launch needs --coordinator_address, --num_processes and "
                    f"--process_id; missing {missing}")
  try:
    num, index = int(values["num_processes"]), int(values["process_id"])
  except ValueError:
    raise UserError(f"--num_processes={values['num_processes']!r} and --process_id={values['process_id']!r} "
                    f"must be integers") from None
  if num < 1 or not 0 <= index < num:
    raise UserError(f"--process_id={index} must be in [0, {num}) for --num_processes={num}")
  host, _, port = str(values["coordinator_address"]).rpartition(":")
  if not host or not port.isdigit():
    raise UserError(f"--coordinator_address={values['coordinator_address']!r} must be host:port")
  return {"coordinator_address": str(values["coordinator_address"]), "num_processes": num, "process_id": index}


def wait_for_coordinator(address: str, timeout_s: float) -> None:
  """Waits until process 0's coordinator accepts connections.

  XLA's client aborts the whole process (no Python exception) when the coordinator
  cannot be reached, so the other processes look for it first and fail with one line.
  """
  host, _, port = address.rpartition(":")
  deadline = time.monotonic() + timeout_s
  while True:
    try:
      with socket.create_connection((host, int(port)), timeout=min(5.0, timeout_s)):
        return
    except OSError as e:
      if time.monotonic() >= deadline:
        raise UserError(f"--distributed: no coordinator answers at {address} after {timeout_s:.0f} s "
                        f"({e.strerror or e}); start process 0 there first, or check the address") from None
      time.sleep(0.5)


def initialize(settings: Optional[dict], timeout_s: int) -> None:
  """Joins the job; a coordinator that never answers is one error line after `timeout_s`."""
  # Cross-process collectives of the CPU backend (tests, CPU clusters); GPUs use NCCL.
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  where = settings["coordinator_address"] if settings else "the cluster's coordinator (auto-detected)"
  if settings and settings["process_id"] != 0:
    wait_for_coordinator(settings["coordinator_address"], timeout_s)
  try:
    jax.distributed.initialize(**(settings or {}), initialization_timeout=timeout_s)
  except Exception as e:  # Missing cluster environment, an unreachable or refusing coordinator, ...
    first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
    raise UserError(f"--distributed: could not join the job through {where} within {timeout_s} s: {first}") from e
