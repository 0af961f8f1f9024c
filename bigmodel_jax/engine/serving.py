"""An exported artefact (`engine/export.py`) behind an HTTP JSON API, with server-side batching.

Routes: POST /predict {"inputs": one input or a list of them} -> {"outputs": [...]} (and, for a
classifier, the top class of each); GET /health; GET /metadata. Requests that arrive together
wait in one queue; a single batcher takes up to `max_batch_size` inputs, or what came within
`max_wait_ms` of the first, and runs them as one call of the model in a worker thread (JAX
releases the GIL, so the event loop keeps reading requests meanwhile). Batches are padded to a
power of two, so the model is compiled for a few shapes, all at start-up.

This module needs jax, numpy and starlette only, not the rest of bigmodel_jax.
"""
import asyncio
import concurrent.futures
import dataclasses
import json
import math
import os
import time

import jax
import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Route

MODEL_FILE, META_FILE = "model.jaxexport", "metadata.json"


@dataclasses.dataclass(frozen=True)
class Settings:
  max_batch_size: int = 64          # Inputs per model call; 1 turns batching off.
  max_wait_ms: float = 2.0          # How long the first request of a batch waits for others.
  max_body_bytes: int = 4_000_000   # Larger bodies get 413 before they are parsed.
  max_inputs: int = 256             # Inputs of one request.


class JSONResponse(Response):
  """JSON through orjson: parsing and writing JSON is most of a small request's cost."""
  media_type = "application/json"

  def render(self, content) -> bytes:
    return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


class BadRequest(Exception):
  """One line for the client; `status` is the HTTP status (4xx)."""

  def __init__(self, message: str, status: int = 400):
    super().__init__(message)
    self.status = status


def load_artefact(folder: str):
  """(exported, metadata) of an artefact folder."""
  with open(os.path.join(folder, MODEL_FILE), "rb") as f:
    exported = jax.export.deserialize(bytearray(f.read()))
  with open(os.path.join(folder, META_FILE)) as f:
    return exported, json.load(f)


def batch_sizes(max_batch_size: int) -> list:
  """The padded shapes: powers of two below the maximum, and the maximum."""
  return sorted({2 ** i for i in range(int(math.log2(max_batch_size)) + 1)} | {max_batch_size})


class Model:
  """The exported function, called on padded batches from one worker thread."""

  def __init__(self, folder: str, max_batch_size: int):
    self.exported, self.meta = load_artefact(folder)
    self.shape, self.dtype = tuple(self.meta["input_shape"]), np.dtype(self.meta["input_dtype"])
    self.sizes = batch_sizes(max_batch_size)
    self.fn = jax.jit(self.exported.call)
    self.calls = self.inputs = 0

  def warm_up(self) -> None:
    for size in self.sizes:
      jax.block_until_ready(self.fn(np.zeros((size, *self.shape), self.dtype)))

  def __call__(self, x) -> np.ndarray:
    """Outputs for the rows of x (at most the largest padded size)."""
    size = next(s for s in self.sizes if s >= len(x))
    padded = np.concatenate([x, np.zeros((size - len(x), *self.shape), self.dtype)]) if size > len(x) else x
    self.calls += 1
    self.inputs += len(x)
    return np.asarray(self.fn(padded))[:len(x)]


def parse_inputs(body: bytes, shape: tuple, dtype, settings: Settings, meta: dict) -> tuple[np.ndarray, bool]:
  """(inputs as a batch, whether the request sent a single input); BadRequest says what is wrong."""
  try:
    payload = orjson.loads(body)
  except orjson.JSONDecodeError:
    try:   # Python's parser also reads NaN and Infinity, which are refused below by name.
      payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
      raise BadRequest(f"malformed JSON: {e}") from e
  if not isinstance(payload, dict) or "inputs" not in payload:
    raise BadRequest('expected a JSON object {"inputs": [...]}')
  try:
    x = np.asarray(payload["inputs"])
  except ValueError as e:
    raise BadRequest(f"inputs are ragged: {e}") from e
  if x.dtype.kind not in "iuf" or (dtype.kind == "i" and x.dtype.kind == "f"):
    raise BadRequest(f"inputs must be {'integers' if dtype.kind == 'i' else 'numbers'} ({dtype}); got {x.dtype}")
  if x.size == 0:
    raise BadRequest("inputs are an empty batch")
  single = x.shape == shape
  if single:
    x = x[None]
  if x.ndim != len(shape) + 1 or x.shape[1:] != shape:
    raise BadRequest(f"inputs have shape {list(x.shape)}; expected {list(shape)} or [n, {', '.join(map(str, shape))}]")
  if len(x) > settings.max_inputs:
    raise BadRequest(f"{len(x)} inputs in one request; the limit is {settings.max_inputs}", 413)
  if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
    raise BadRequest("inputs contain NaN or infinity")
  vocab = meta.get("vocab")
  if vocab is not None and (x.min() < 0 or x.max() >= len(vocab)):
    raise BadRequest(f"token ids must be in [0, {len(vocab)})")
  return x.astype(dtype), single


class Batcher:
  """Collects queued requests into model calls (module docstring)."""

  def __init__(self, model: Model, settings: Settings):
    self.model, self.settings = model, settings
    self.queue: asyncio.Queue = asyncio.Queue()
    self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    self.task = None

  def start(self) -> None:
    self.task = asyncio.get_running_loop().create_task(self._run())

  async def stop(self) -> None:
    await self.queue.put(None)
    await self.task
    self.pool.shutdown()

  async def submit(self, x: np.ndarray) -> np.ndarray:
    future = asyncio.get_running_loop().create_future()
    await self.queue.put((x, future))
    return await future

  async def _next_batch(self, first) -> tuple[list, object]:
    """(`first` and what else fits before the batch is full or the wait is over, the item taken
    that did not fit: the next batch's first, or the stop sentinel)."""
    items, rows = [first], len(first[0])
    deadline = time.monotonic() + self.settings.max_wait_ms / 1000
    while rows < self.settings.max_batch_size:
      try:
        item = self.queue.get_nowait() if time.monotonic() >= deadline else \
            await asyncio.wait_for(self.queue.get(), deadline - time.monotonic())
      except (asyncio.QueueEmpty, asyncio.TimeoutError):
        break
      if item is None or rows + len(item[0]) > self.settings.max_batch_size:
        return items, item
      items.append(item)
      rows += len(item[0])
    return items, False

  async def _run(self) -> None:
    loop = asyncio.get_running_loop()
    pending = False   # False: nothing taken ahead; None: the stop sentinel.
    while True:
      first = pending if pending is not False else await self.queue.get()
      if first is None:
        return
      items, pending = await self._next_batch(first)
      x = np.concatenate([x for x, _ in items])
      try:
        outputs = await loop.run_in_executor(self.pool, self._call_in_chunks, x)
      except Exception as e:  # noqa: BLE001 - the clients get the error, the server goes on.
        for _, future in items:
          future.set_exception(e)
        continue
      start = 0
      for x_i, future in items:
        if not future.cancelled():
          future.set_result(outputs[start:start + len(x_i)])
        start += len(x_i)

  def _call_in_chunks(self, x):
    size = self.model.sizes[-1]
    return np.concatenate([self.model(x[i:i + size]) for i in range(0, len(x), size)])


async def _read_body(request, limit: int) -> bytes:
  declared = request.headers.get("content-length")
  if declared is not None and declared.isdigit() and int(declared) > limit:
    raise BadRequest(f"body of {declared} bytes is over the limit of {limit} bytes (--max_body_bytes)", 413)
  chunks, size = [], 0
  async for chunk in request.stream():
    size += len(chunk)
    if size > limit:
      raise BadRequest(f"body is over the limit of {limit} bytes (--max_body_bytes)", 413)
    chunks.append(chunk)
  return b"".join(chunks)


def _response(model: Model, outputs: np.ndarray, single: bool) -> dict:
  result = {"outputs": outputs}
  classes = model.meta.get("classes")
  if classes and outputs.ndim == 2:
    result["classes"] = [classes[i] for i in np.argmax(outputs, axis=1)]
  if single:
    result = {k: v[0] for k, v in result.items()}
  return result


def make_app(folder: str, settings: Settings) -> Starlette:
  """The ASGI app serving the artefact in `folder`; the model compiles on start-up."""
  model = Model(folder, settings.max_batch_size)
  model.warm_up()
  state = {}

  async def predict(request):
    try:
      body = await _read_body(request, settings.max_body_bytes)
      x, single = parse_inputs(body, model.shape, model.dtype, settings, model.meta)
    except BadRequest as e:
      return JSONResponse({"error": str(e)}, status_code=e.status)
    outputs = await state["batcher"].submit(x)
    return JSONResponse(_response(model, outputs, single))

  async def health(request):
    del request
    return JSONResponse({"status": "ok", "model_calls": model.calls, "inputs": model.inputs})

  async def metadata(request):
    del request
    return JSONResponse({**model.meta, "server": dataclasses.asdict(settings), "batch_sizes": model.sizes})

  async def error(request, exc: HTTPException):
    return JSONResponse({"error": f"{exc.detail}: {request.method} {request.url.path}"},
                        status_code=exc.status_code)

  async def lifespan(app):
    del app
    state["batcher"] = Batcher(model, settings)
    state["batcher"].start()
    yield
    await state["batcher"].stop()   # After the server has answered every request in flight.

  routes = [Route("/predict", predict, methods=["POST"]), Route("/health", health, methods=["GET"]),
            Route("/metadata", metadata, methods=["GET"])]
  return Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: error})
