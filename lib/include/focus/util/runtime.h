#pragma once
// Process-wide runtime choices made by the apps: threads and device.
#include <string>

#include <torch/types.h>

namespace focus::util {

/// Sets LibTorch's intra-op thread count; `threads <= 0` means all cores.
/// OpenBLAS, when it is the BLAS, is set to run in the calling thread (its
/// spinning workers would compete with LibTorch's) unless OPENBLAS_NUM_THREADS
/// is set in the environment. Returns the count in effect.
int configure_threads(int threads);

/// How glibc malloc treats freed memory (process-wide: set by the apps).
enum class AllocatorPolicy {
  /// Keep freed memory in the process instead of returning it to the kernel
  /// after every step (no mmap-ed blocks, no trimming below 1 GiB). LibTorch
  /// frees and reallocates its activations every step; with glibc's defaults
  /// each of those is a fresh mmap whose pages fault in again, which made
  /// training here up to 6x slower. For training, evaluation and batch jobs.
  keep_freed,
  /// Return freed memory: blocks of 16 MiB and more mmap-ed (and unmapped
  /// when freed), a heap trimmed above 64 MiB free, at most 4 malloc arenas,
  /// so that a long-running server with many handler threads does not hold
  /// every thread's peak. Smaller blocks (batched activations) are reused.
  return_freed,
};
void configure_allocator(AllocatorPolicy policy = AllocatorPolicy::keep_freed);
/// Returns free heap memory to the kernel now (glibc malloc_trim); a no-op
/// elsewhere. For a server after an unusually large request.
void release_free_memory();

/// Resolves "auto", "cpu", "cuda" or "cuda:N" to a device; "auto" picks CUDA
/// when LibTorch was built with it and a GPU is present. Throws focus::Error
/// for an unknown name or an unavailable CUDA device.
torch::Device resolve_device(const std::string& name);

}  // namespace focus::util
