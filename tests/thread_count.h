#pragma once
// Sets LibTorch's intra-op thread count for one test and restores it.
#include <ATen/Parallel.h>

namespace focus::testing {

class ThreadCount {
 public:
  explicit ThreadCount(int threads) : saved_(at::get_num_threads()) { at::set_num_threads(threads); }
  ~ThreadCount() { at::set_num_threads(saved_); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;

 private:
  int saved_;
};

}  // namespace focus::testing
