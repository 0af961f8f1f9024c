r"""Serves an exported model (`--mode=export`) over HTTP with server-side batching.

  python -m launch.main --config=configs/cnn_fashion_mnist.py --workdir=runs/cnn --mode=export
  python -m launch.serve --artefact=runs/cnn/export --port=8000
  curl -s localhost:8000/metadata
  curl -s -X POST localhost:8000/predict -d '{"inputs": [[[0.0], ...]]}'

Routes: POST /predict, GET /health, GET /metadata (bigmodel_jax/engine/serving.py).
Concurrent requests share model calls of up to --max_batch_size inputs, gathered for at
most --max_wait_ms; --max_batch_size=1 serves each request alone. SIGTERM or Ctrl-C stop
it after the requests in flight are answered. A bad flag or artefact is one `error:` line
and exit status 1; a bad request is a 4xx with one line and the server goes on.
"""
import os
import signal
import sys

from absl import app, flags

from launch import xla_flags

_ARTEFACT = flags.DEFINE_string("artefact", None, "Folder written by --mode=export (model.jaxexport, metadata.json).")
_HOST = flags.DEFINE_string("host", "127.0.0.1", "Address to listen on (0.0.0.0: every interface).")
_PORT = flags.DEFINE_integer("port", 8000, "TCP port.")
_MAX_BATCH = flags.DEFINE_integer("max_batch_size", 64, "Inputs per model call (1: no batching), 1..4096.")
_MAX_WAIT = flags.DEFINE_float("max_wait_ms", 2.0, "How long a batch waits for more requests, 0..10000 ms.")
_MAX_BODY = flags.DEFINE_integer("max_body_bytes", 4_000_000, "Largest request body in bytes (413 above).")
_MAX_INPUTS = flags.DEFINE_integer("max_inputs", 256, "Most inputs in one request (413 above).")


def checked_settings():
  """The flags as Settings; a bad one raises ValueError naming it, its value and what is allowed."""
  from bigmodel_jax.engine.serving import META_FILE, MODEL_FILE, Settings
  folder = _ARTEFACT.value
  if not folder or not all(os.path.isfile(os.path.join(folder, f)) for f in (MODEL_FILE, META_FILE)):
    raise ValueError(f"--artefact={folder!r}: expected a folder with {MODEL_FILE} and {META_FILE} "
                     "(write one with --mode=export)")
  if not 1 <= _MAX_BATCH.value <= 4096:
    raise ValueError(f"--max_batch_size={_MAX_BATCH.value}; allowed 1..4096")
  if not 0 <= _MAX_WAIT.value <= 10_000:
    raise ValueError(f"--max_wait_ms={_MAX_WAIT.value}; allowed 0..10000")
  if _MAX_BODY.value < 1 or _MAX_INPUTS.value < 1:
    raise ValueError(f"--max_body_bytes={_MAX_BODY.value}, --max_inputs={_MAX_INPUTS.value}; both must be >= 1")
  if not 0 <= _PORT.value <= 65535:
    raise ValueError(f"--port={_PORT.value}; allowed 0..65535")
  return Settings(_MAX_BATCH.value, _MAX_WAIT.value, _MAX_BODY.value, _MAX_INPUTS.value)


def main(argv) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  try:
    settings = checked_settings()
    import uvicorn
    from bigmodel_jax.engine.serving import make_app
    application = make_app(_ARTEFACT.value, settings)
  except (ValueError, OSError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
  print(f"serving {_ARTEFACT.value} on http://{_HOST.value}:{_PORT.value} "
        f"(max_batch_size={settings.max_batch_size}, max_wait_ms={settings.max_wait_ms})", flush=True)
  # uvicorn answers SIGTERM / SIGINT by closing the socket, finishing the requests in flight, then
  # running the app's shutdown (which stops the batcher); afterwards it raises the signal again
  # with the handler it found, which here notes it, so the drained server exits 0.
  for stop_signal in (signal.SIGTERM, signal.SIGINT):
    signal.signal(stop_signal, lambda signum, frame: None)
  uvicorn.run(application, host=_HOST.value, port=_PORT.value, log_level="warning", access_log=False,
              loop="uvloop", http="httptools")
  print("stopped: every request in flight was answered", flush=True)


if __name__ == "__main__":
  xla_flags.set_defaults()   # The CPU kernels the export's example outputs were computed with.
  app.run(main)
