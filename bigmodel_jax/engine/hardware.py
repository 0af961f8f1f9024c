"""Peak FLOP/s per device kind, for model FLOPs utilisation (MFU = model FLOP/s / peak)."""
import os

# Dense (no sparsity) bf16 matmul peak per device, from the vendors' data sheets:
# NVIDIA H100 SXM5 / H200: 989.4 TFLOP/s; H100 PCIe: 756 TFLOP/s; A100: 312 TFLOP/s;
# V100 (fp16 tensor cores): 125 TFLOP/s; Google Cloud TPU pages: v4 275, v5e 197, v5p 459 TFLOP/s.
PEAK_FLOPS = {
    "H100 PCIe": 756e12,
    "H100": 989.4e12,
    "H200": 989.4e12,
    "A100": 312e12,
    "V100": 125e12,
    "TPU v4": 275e12,
    "TPU v5 lite": 197e12,
    "TPU v5p": 459e12,
}

# CPU: float32 FMA throughput of an AVX2 core, 2 FMA units x 8 lanes x 2 FLOPs = 32 FLOP per
# cycle (Intel's optimisation manual), at a nominal 2.5 GHz, times the cores this process sees.
CPU_FLOPS_PER_CORE = 32 * 2.5e9


def peak_flops(devices) -> float:
  """Peak FLOP/s of these devices together (a CPU counts its cores once); 0 if the kind is unknown."""
  devices = list(devices)
  if devices[0].platform == "cpu":
    return CPU_FLOPS_PER_CORE * (os.cpu_count() or 1)
  kind = devices[0].device_kind
  match = max((k for k in PEAK_FLOPS if k.lower() in kind.lower()), key=len, default=None)
  return PEAK_FLOPS[match] * len(devices) if match else 0.0


def memory_bytes(device) -> int:
  """Memory of one device: an accelerator's own (as its runtime reports it), the host's RAM for a CPU."""
  stats = device.memory_stats() if device.platform != "cpu" else None
  if stats and stats.get("bytes_limit"):
    return int(stats["bytes_limit"])
  return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
