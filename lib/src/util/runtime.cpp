#include "focus/util/runtime.h"

#include <dlfcn.h>
#include <malloc.h>

#include <cstdlib>
#include <thread>

#include <torch/cuda.h>
#include <torch/utils.h>

#include "focus/util/error.h"

namespace focus::util {

int configure_threads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  // OpenBLAS keeps its own pool of worker threads, which spin for a while
  // after every call. Next to LibTorch's OpenMP threads they oversubscribe the
  // cores: on 2 cores a text Transformer trained 1.5x and the multimodal
  // network 2.3x slower (docs/BENCHMARKS.md). BLAS therefore runs in the
  // calling thread; LibTorch's own threads do the parallel work. An explicit
  // OPENBLAS_NUM_THREADS in the environment is left as it is.
  using SetThreads = void (*)(int);
  if (std::getenv("OPENBLAS_NUM_THREADS") == nullptr)
    if (auto* set_blas_threads = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
      set_blas_threads(1);
  return torch::get_num_threads();
}

void configure_allocator(AllocatorPolicy policy) {
#ifdef M_MMAP_THRESHOLD
  if (policy == AllocatorPolicy::return_freed) {
    // Blocks of 16 MiB and more are mmap-ed and go back to the kernel when
    // freed; a heap is trimmed above 64 MiB of free space at its top. Smaller
    // blocks (a batched forward call's activations) are reused from the heap:
    // with a 1 MiB threshold every batch's activations faulted in afresh and
    // batched serving lost more than half its throughput.
    mallopt(M_MMAP_MAX, 65536);  // glibc's default
    mallopt(M_MMAP_THRESHOLD, 16 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_ARENA_MAX, 4);
    return;
  }
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
  // Blocks above the threshold (attention scores of long texts, embedding
  // gradients) would still be mmap-ed afresh every step: serve them from the
  // heap too, where freed memory is reused.
  mallopt(M_MMAP_MAX, 0);
#endif
}

void release_free_memory() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

torch::Device resolve_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    if (!torch::cuda::is_available())
      throw Error("device '" + name + "' requested, but this LibTorch build has no usable CUDA device");
    torch::Device device(name);
    const auto count = static_cast<int64_t>(torch::cuda::device_count());
    if (device.has_index() && device.index() >= count)
      throw Error("device '" + name + "' requested, but there are only " + std::to_string(count) + " CUDA devices");
    return device;
  }
  throw Error("unknown device '" + name + "': expected auto, cpu, cuda or cuda:N");
}

}  // namespace focus::util
