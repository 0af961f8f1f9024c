r"""The HTTP server (`launch.serve`) under load: latency and throughput with and without batching.

  python -m launch.main --config=configs/cnn_fashion_mnist.py --workdir=runs/cnn --mode=export
  python -m launch.benchmark serve --artefact=runs/cnn/export --out=results/serve.json

For each side (server-side batching with --max_batch_size and --max_wait_ms, and no
batching: --max_batch_size=1) it starts `python -m launch.serve` on a free loopback port,
then for each --clients level opens that many keep-alive connections, each sending
single-input POST /predict requests one after another (an example input of the artefact).
A level stops after --requests requests or --seconds seconds, whichever comes first, after
a warm-up of 4 requests per client. Reported per level: p50 and p99 latency (ms), requests/s
and inputs/s; then the two sides' throughput at the largest level. The load generator runs
in this process, on the same cores as the server.
"""
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time

import numpy as np
from absl import flags

from launch.benchmarks import harness

_ARTEFACT = flags.DEFINE_string("artefact", None, "Folder written by --mode=export.")
_CLIENTS = flags.DEFINE_list("clients", ["1", "8", "64"], "Concurrent clients of each level.")
_REQUESTS = flags.DEFINE_integer("requests", 3000, "Most requests of one level.")
_SECONDS = flags.DEFINE_float("seconds", 15.0, "Most seconds of one level.")
_MAX_BATCH = flags.DEFINE_integer("max_batch_size", 64, "The batching side's --max_batch_size.")
_MAX_WAIT = flags.DEFINE_float("max_wait_ms", 2.0, "The batching side's --max_wait_ms.")


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def start_server(folder: str, *flags_) -> tuple[subprocess.Popen, int]:
  """A `launch.serve` subprocess on loopback, once it answers /health."""
  port = _free_port()
  process = subprocess.Popen([sys.executable, "-m", "launch.serve", f"--artefact={folder}", f"--port={port}",
                              *flags_], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  deadline = time.monotonic() + 120
  while time.monotonic() < deadline:
    if process.poll() is not None:
      raise RuntimeError(f"the server failed: {process.stderr.read()[-2000:]}")
    try:
      with socket.create_connection(("127.0.0.1", port), timeout=1):
        return process, port
    except OSError:
      time.sleep(0.2)
  process.kill()
  raise RuntimeError("the server did not start in 120 s")


async def _one_request(reader, writer, request: bytes) -> None:
  writer.write(request)
  head = await reader.readuntil(b"\r\n\r\n")
  if not head.startswith(b"HTTP/1.1 200"):
    raise RuntimeError(f"server answered {head.splitlines()[0]!r}")
  length = next(int(line.split(b":")[1]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length"))
  await reader.readexactly(length)


async def _client(port: int, request: bytes, budget: dict, latencies: list) -> None:
  """Sends requests one after another on one keep-alive connection while the level's budget lasts."""
  reader, writer = await asyncio.open_connection("127.0.0.1", port)
  for _ in range(4):   # Warm-up, not timed.
    await _one_request(reader, writer, request)
  await budget["start"].wait()
  while budget["left"] > 0 and time.perf_counter() < budget["deadline"]:
    budget["left"] -= 1
    t0 = time.perf_counter()
    await _one_request(reader, writer, request)
    latencies.append(time.perf_counter() - t0)
  writer.close()


async def _level(port: int, request: bytes, clients: int) -> dict:
  latencies, start = [], asyncio.Event()
  budget = {"left": _REQUESTS.value, "deadline": float("inf"), "start": start}
  tasks = [asyncio.create_task(_client(port, request, budget, latencies)) for _ in range(clients)]
  await asyncio.sleep(0.5)   # Every connection warmed up.
  t0 = time.perf_counter()
  budget["deadline"] = t0 + _SECONDS.value
  start.set()
  await asyncio.gather(*tasks)
  seconds = time.perf_counter() - t0
  ms = np.asarray(latencies) * 1000
  return {"clients": clients, "requests": len(ms), "seconds": seconds, "p50_ms": float(np.percentile(ms, 50)),
          "p99_ms": float(np.percentile(ms, 99)), "requests_per_s": len(ms) / seconds,
          "inputs_per_s": len(ms) / seconds}   # One input per request.


def _request(folder: str) -> bytes:
  x = np.load(os.path.join(folder, "example_inputs.npy"))[0]
  body = json.dumps({"inputs": x.tolist()}).encode()
  return (b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          b"Content-Length: %d\r\n\r\n" % len(body)) + body


def measure_side(report, name: str, folder: str, server_flags: list) -> list:
  process, port = start_server(folder, *server_flags)
  rows = []
  try:
    for clients in map(int, _CLIENTS.value):
      row = {"side": name, **asyncio.run(_level(port, _request(folder), clients))}
      rows.append(row)
      report.row(row, f"{name:>11} {clients:3d} clients: p50 {row['p50_ms']:.2f} ms, p99 {row['p99_ms']:.2f} ms, "
                      f"{row['requests_per_s']:.0f} requests/s, {row['inputs_per_s']:.0f} images/s "
                      f"({row['requests']} requests in {row['seconds']:.1f} s)")
  finally:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
  return rows


def run(argv) -> None:
  del argv
  folder = _ARTEFACT.value
  if not folder or not os.path.isfile(os.path.join(folder, "model.jaxexport")):
    print(f"error: --artefact={folder!r}: expected a folder written by --mode=export", file=sys.stderr)
    sys.exit(1)
  report = harness.Report("serve")
  batched = measure_side(report, "batching", folder,
                         [f"--max_batch_size={_MAX_BATCH.value}", f"--max_wait_ms={_MAX_WAIT.value}"])
  alone = measure_side(report, "no batching", folder, ["--max_batch_size=1", "--max_wait_ms=0"])
  report.note("median_p99_ms_one_client", statistics.median([r["p99_ms"] for r in batched if r["clients"] == 1]))
  report.compare(f"images/s at {batched[-1]['clients']} clients", ("batching", batched[-1]["inputs_per_s"]),
                 ("no batching", alone[-1]["inputs_per_s"]), "images/s", lower_is_better=False)
  report.finish()
