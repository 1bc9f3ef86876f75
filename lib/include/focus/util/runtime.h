#pragma once
// Process-wide runtime choices made by the apps: threads and device.
#include <string>

#include <torch/types.h>

namespace focus::util {

/// Sets LibTorch's intra-op thread count; `threads <= 0` means all cores.
/// Returns the count in effect.
int configure_threads(int threads);

/// Resolves "auto", "cpu", "cuda" or "cuda:N" to a device; "auto" picks CUDA
/// when LibTorch was built with it and a GPU is present. Throws focus::Error
/// for an unknown name or an unavailable CUDA device.
torch::Device resolve_device(const std::string& name);

}  // namespace focus::util
