// focus-bench-predict: batch-1 latency of focus-predict's per-input path
// (read the file, decode, resize, normalise, forward, softmax + top-k)
// against a bare forward() call on the same, already prepared tensor.
//   focus-bench-predict MODEL.pt IMAGE [REPEATS] [THREADS]
// Prints p50/p99 of both in milliseconds and their ratio.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "focus/deploy/model_inputs.h"
#include "focus/util/atomic_file.h"
#include "focus/util/runtime.h"

namespace {
double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: focus-bench-predict MODEL.pt IMAGE [REPEATS=500] [THREADS=0]\n");
    return 2;
  }
  try {
    const int repeats = argc > 3 ? std::atoi(argv[3]) : 500;
    focus::util::configure_allocator();
    const int threads = focus::util::configure_threads(argc > 4 ? std::atoi(argv[4]) : 0);
    const auto model = focus::deploy::ScriptModel::load(argv[1], torch::kCPU);
    const std::string file = argv[2];
    using Clock = std::chrono::steady_clock;
    auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };

    const auto prepared = focus::deploy::make_inputs(model, {{file, focus::util::read_file(file), "", ""}});
    for (int i = 0; i < 20; ++i) model.forward(prepared);  // warm-up
    std::vector<double> bare, full;
    for (int i = 0; i < repeats; ++i) {
      // Alternate, so that both see the same machine state.
      auto t0 = Clock::now();
      auto logits = model.forward(prepared);
      bare.push_back(ms(Clock::now() - t0));
      t0 = Clock::now();
      const auto inputs = focus::deploy::make_inputs(model, {{file, focus::util::read_file(file), "", ""}});
      const auto top = focus::deploy::top_k(model, model.forward(inputs), 5);
      full.push_back(ms(Clock::now() - t0));
      if (top.empty() || logits.size(0) != 1) return 1;
    }
    const double b50 = percentile(bare, 0.5), b99 = percentile(bare, 0.99);
    const double f50 = percentile(full, 0.5), f99 = percentile(full, 0.99);
    std::printf("threads %d, %d repeats\n", threads, repeats);
    std::printf("bare forward     p50 %.3f ms  p99 %.3f ms\n", b50, b99);
    std::printf("predict path     p50 %.3f ms  p99 %.3f ms\n", f50, f99);
    std::printf("ratio            p50 %.3f     p99 %.3f\n", f50 / b50, f99 / b99);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "focus-bench-predict: error: %s\n", e.what());
    return 1;
  }
}
