#pragma once
// Data-parallel training over PyTorch's c10d: a TCPStore rendezvous and a Gloo
// process group (NCCL is not wired in yet). torchrun's conventions name the
// group: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, LOCAL_RANK.
//
// GradientSync is the piece LibTorch lacks (there is no C++
// DistributedDataParallel, pytorch issue 48959): gradients are grouped into
// buckets in reverse parameter order (the order backward produces them); a
// hook on each parameter marks its gradient ready, and a bucket is all-reduced
// asynchronously as soon as it and every bucket before it are ready, so
// communication overlaps the rest of the backward pass. finish() waits, and
// writes the averaged gradients back. Every rank launches the buckets in the
// same order, which collectives require.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>

namespace focus::train {

class GradientSync;

struct DistributedOptions {
  int64_t rank = 0;
  int64_t world_size = 1;
  int64_t local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  int64_t timeout_seconds = 300;  ///< a collective or the rendezvous waiting longer fails with an error
  int64_t bucket_bytes = 25 << 20;  ///< gradient bucket size (PyTorch DDP's default, 25 MiB)
};

/// `defaults` with the torchrun variables that are set in the environment
/// applied. Throws focus::Error naming the variable for a value that is not a
/// number or out of range (RANK >= WORLD_SIZE, a port outside 1..65535).
DistributedOptions distributed_from_environment(DistributedOptions defaults);
/// Checks the options (rank < world size, port range, timeout >= 1).
void check_distributed_options(const DistributedOptions& options);

/// A joined process group. Collectives throw focus::Error when a peer dies or
/// does not answer within the timeout.
class ProcessGroup {
 public:
  /// Rendezvous at master_addr:master_port (rank 0 serves the store) and connect over Gloo.
  static std::shared_ptr<ProcessGroup> join(const DistributedOptions& options);
  ~ProcessGroup();

  int64_t rank() const;
  int64_t size() const;
  /// Every parameter and buffer of `module` takes rank 0's values.
  void broadcast_module(torch::nn::Module& module);
  /// Sums `values` over the ranks (in place), e.g. loss sums and counts for metrics.
  void sum(std::vector<double>& values);
  /// All-reduces `tensors` (in place, summed), one collective for all of them.
  void sum(std::vector<torch::Tensor>& tensors);
  void barrier();

  struct Impl;

 private:
  friend class GradientSync;
  explicit ProcessGroup(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Averages the gradients of `module`'s parameters across the group after each backward pass.
class GradientSync {
 public:
  GradientSync(torch::nn::Module& module, std::shared_ptr<ProcessGroup> group, int64_t bucket_bytes);
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;
  /// Call before backward(): clears the readiness of every bucket.
  void prepare();
  /// Call after backward(): reduces what is left, waits for every bucket and
  /// writes the averaged gradients into the parameters' .grad (parameters that
  /// received no gradient on this rank contribute zeros).
  void finish();
  int64_t buckets() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace focus::train
