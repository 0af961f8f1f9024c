"""launch.serve: routes, server-side batching, bad requests, SIGTERM drain.

One tiny classifier is trained and exported once; the servers are subprocesses on loopback.
"""
import concurrent.futures
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from bigmodel_jax.engine import trainer
from conftest import REPO, make_config


@pytest.fixture(scope="module")
def artefact(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("served"))
  config = make_config("cnn_digits")
  trainer.train_and_evaluate(config, workdir)
  return trainer.train_and_evaluate(config, workdir, mode="export")["output"]


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


class Server:
  """`python -m launch.serve` on a free loopback port, up once /health answers."""

  def __init__(self, folder: str, *flags):
    self.port = _free_port()
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="")
    self.process = subprocess.Popen([sys.executable, "-m", "launch.serve", f"--artefact={folder}",
                                     f"--port={self.port}", *flags], cwd=REPO, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
      assert self.process.poll() is None, self.process.communicate()[1][-2000:]
      try:
        self.get("/health")
        return
      except OSError:
        time.sleep(0.2)
    raise TimeoutError("the server did not start")

  def request(self, path: str, body=None, method=None):
    """(status, JSON reply) of one request."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method)
    try:
      with urllib.request.urlopen(request, timeout=60) as reply:
        return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as e:
      return e.code, json.loads(e.read())

  def get(self, path):
    return self.request(path)

  def stop(self):
    if self.process.poll() is None:
      self.process.send_signal(signal.SIGTERM)
    return self.process.communicate(timeout=60)


@pytest.fixture(scope="module")
def server(artefact):
  # A long wait, so requests sent together surely share a batch.
  running = Server(artefact, "--max_wait_ms=300", "--max_body_bytes=100000", "--max_inputs=16")
  yield running
  running.stop()


def _examples(artefact):
  return (np.load(os.path.join(artefact, "example_inputs.npy")), np.load(os.path.join(artefact, "example_outputs.npy")))


def test_health_and_metadata(server, artefact):
  assert server.get("/health")[1]["status"] == "ok"
  status, meta = server.get("/metadata")
  assert status == 200 and meta["input_shape"] == [8, 8, 1] and meta["input_dtype"] == "float32"
  assert meta["classes"] == [str(d) for d in range(10)] and meta["run"]["step"] > 0
  assert meta["server"]["max_wait_ms"] == 300


def test_predict_one_and_many_equal_the_trainers_outputs(server, artefact):
  x, expected = _examples(artefact)
  status, many = server.request("/predict", {"inputs": x.tolist()})
  assert status == 200
  # The server computes with the same kernels as the trainer; padded to 8 rows, as exported.
  np.testing.assert_array_equal(np.asarray(many["outputs"], np.float32), expected)
  assert many["classes"] == [str(int(i)) for i in np.argmax(expected, axis=1)]
  status, one = server.request("/predict", {"inputs": x[0].tolist()})
  assert status == 200 and one["classes"] == many["classes"][0]
  np.testing.assert_allclose(one["outputs"], expected[0], rtol=1e-5, atol=1e-6)


def test_concurrent_requests_share_one_model_call(server, artefact):
  x, _ = _examples(artefact)
  before = server.get("/health")[1]
  with concurrent.futures.ThreadPoolExecutor(2) as pool:
    replies = list(pool.map(lambda row: server.request("/predict", {"inputs": [row.tolist()]}), x[:2]))
  assert [status for status, _ in replies] == [200, 200]
  after = server.get("/health")[1]
  assert after["inputs"] - before["inputs"] == 2
  assert after["model_calls"] - before["model_calls"] == 1


BAD_REQUESTS = [
    ("/predict", b"{not json", 400, "malformed JSON"),
    ("/predict", {"values": []}, 400, '{"inputs"'),
    ("/predict", {"inputs": [[1.0, 2.0]]}, 400, "shape [1, 2]"),
    ("/predict", {"inputs": [[["a"]] * 8] * 8}, 400, "must be numbers"),
    ("/predict", {"inputs": [[[[1.0]] * 8] * 8, [[1.0]] * 3]}, 400, "ragged"),
    ("/predict", b'{"inputs": ' + json.dumps([[[0.5]] * 8] * 7 + [[[0.5]] * 7 + [[float("nan")]]]).encode() + b"}",
     400, "NaN"),
    ("/predict", b'{"inputs": ' + json.dumps([[[0.5]] * 8] * 7 + [[[0.5]] * 7 + [[float("inf")]]]).encode() + b"}",
     400, "NaN or infinity"),
    ("/predict", {"inputs": []}, 400, "empty batch"),
    ("/predict", {"inputs": [[[[0.0]] * 8] * 8] * 17}, 413, "limit is 16"),
    ("/predict", b" " * 200_000, 413, "over the limit of 100000 bytes"),
    ("/nowhere", None, 404, "Not Found"),
    ("/health", b"{}", 405, "Method Not Allowed"),
]


@pytest.mark.parametrize("path, body, status, message", BAD_REQUESTS, ids=[b[3] for b in BAD_REQUESTS])
def test_bad_request_is_one_line_4xx_and_the_server_goes_on(server, artefact, path, body, status, message):
  got, reply = server.request(path, body, method="POST" if body is not None else None)
  assert got == status and message in reply["error"] and "\n" not in reply["error"], reply
  x, expected = _examples(artefact)
  ok, good = server.request("/predict", {"inputs": x.tolist()})
  assert ok == 200
  np.testing.assert_array_equal(np.asarray(good["outputs"], np.float32), expected)


def test_sigterm_answers_requests_in_flight_then_exits(artefact):
  running = Server(artefact, "--max_wait_ms=1500")   # The request waits in the batch queue...
  x, expected = _examples(artefact)
  with concurrent.futures.ThreadPoolExecutor(1) as pool:
    reply = pool.submit(running.request, "/predict", {"inputs": x.tolist()})
    time.sleep(0.5)
    running.process.send_signal(signal.SIGTERM)   # ... while the server is told to stop.
    status, body = reply.result(timeout=60)
  assert status == 200
  np.testing.assert_array_equal(np.asarray(body["outputs"], np.float32), expected)
  out, err = running.process.communicate(timeout=60)
  assert running.process.returncode == 0, err[-2000:]
  assert "stopped: every request in flight was answered" in out


def test_bad_flag_is_one_error_line(tmp_path):
  result = subprocess.run([sys.executable, "-m", "launch.serve", f"--artefact={tmp_path}"], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env=dict(os.environ, JAX_PLATFORMS="cpu"))
  assert result.returncode == 1
  assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
      f"error: --artefact={str(tmp_path)!r}: expected a folder with model.jaxexport and metadata.json "
      "(write one with --mode=export)"]
