r"""The source material's Keras CNN on Fashion-MNIST, timed epoch by epoch (TensorFlow backend).

Runs in its own virtualenv (`python -m launch.benchmark time_to_accuracy` makes it):
conv 5x5 32 -> max-pool 2 -> conv 5x5 64 -> max-pool 2 -> dense 128 -> dense 10 softmax,
Adam, sparse categorical cross-entropy, batch 32, pixels scaled to [0, 1].
Prints one JSON line per epoch: {"epoch", "train_seconds" (cumulative, evaluation
excluded), "test_accuracy"}; stops after the epoch that reaches --target.
"""
import argparse
import gzip
import json
import os
import time

import numpy as np


def _read(data_dir, name, offset):
  with gzip.open(os.path.join(data_dir, name + ".gz")) as f:
    return np.frombuffer(f.read(), np.uint8, offset=offset)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--data_dir", default="data/fashion_mnist")
  parser.add_argument("--target", type=float, default=0.91)
  parser.add_argument("--max_epochs", type=int, default=10)
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  import keras  # Imported late: the backend is chosen by KERAS_BACKEND before this.
  keras.utils.set_random_seed(args.seed)
  x_train = _read(args.data_dir, "train-images-idx3-ubyte", 16).reshape(-1, 28, 28, 1) / 255.0
  y_train = _read(args.data_dir, "train-labels-idx1-ubyte", 8)
  x_test = _read(args.data_dir, "t10k-images-idx3-ubyte", 16).reshape(-1, 28, 28, 1) / 255.0
  y_test = _read(args.data_dir, "t10k-labels-idx1-ubyte", 8)
  model = keras.Sequential([
      keras.Input((28, 28, 1)),
      keras.layers.Conv2D(32, 5, activation="relu"), keras.layers.MaxPooling2D(2),
      keras.layers.Conv2D(64, 5, activation="relu"), keras.layers.MaxPooling2D(2),
      keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"),
      keras.layers.Dense(10, activation="softmax")])
  model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
  train_seconds = 0.0
  for epoch in range(1, args.max_epochs + 1):
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=32, epochs=1, verbose=0)
    train_seconds += time.perf_counter() - start
    accuracy = float(model.evaluate(x_test, y_test, verbose=0)[1])
    print(json.dumps({"epoch": epoch, "train_seconds": train_seconds, "test_accuracy": accuracy}), flush=True)
    if accuracy >= args.target:
      break


if __name__ == "__main__":
  main()
