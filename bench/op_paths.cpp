// focus-bench-ops: the operators of a single image's or text's forward pass,
// as ATen runs them against Focus's paths for them:
//   - batch-1 convolutions: ATen's choice of kernel (the module's forward)
//     against focus::nn::conv2d, which sends the ones ATen runs natively to
//     oneDNN (focus/nn/conv2d.h);
//   - small layer norms and softmaxes: ATen's (split over the intra-op threads)
//     against focus::nn::layer_norm / softmax, which keep inputs of at most
//     kSerialMaxElements values on the calling thread (focus/nn/small_ops.h),
//     and the same operators forced onto the calling thread at every size;
//   - matrix products: ATen's mm (the BLAS, which Focus keeps on one thread)
//     against focus::nn::row_parallel_mm, the path of Focus's linear layers
//     (oneDNN's sgemm, or the BLAS split by rows with FOCUS_GEMM=blas;
//     focus/nn/gemm.h), from a single image's projections to 1024^3;
//   - training convolutions (table=winograd only): ATen's 3x3 convolution
//     against focus::nn::winograd_conv2d (oneDNN's Winograd kernels,
//     focus/nn/winograd_conv2d.h), forward and forward + backward, at batch 128
//     channels-last, the Fashion AttnCNN's stride-1 shapes.
//
//   focus-bench-ops [threads=2] [repeats=300] [table=all|conv|small|gemm|winograd]
//
// Prints Markdown tables (all but winograd, or the one asked for): median
// microseconds per call. Inference mode, float32, except the winograd table
// (milliseconds, with autograd).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "focus/nn/conv2d.h"
#include "focus/nn/gemm.h"
#include "focus/nn/linear.h"
#include "focus/nn/small_ops.h"
#include "focus/nn/winograd_conv2d.h"
#include "focus/util/error.h"
#include "focus/util/runtime.h"

namespace {

using Clock = std::chrono::steady_clock;

template <typename F>
double median_us(const F& f, int repeats) {
  for (int i = 0; i < 20; ++i) f();
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    const auto start = Clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  std::nth_element(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(t.size() / 2), t.end());
  return t[t.size() / 2];
}

struct Shape {
  int64_t in, out, size, kernel, stride;
};

/// Rows of the winograd table: ATen's convolution against winograd_conv2d, with autograd.
void winograd_rows(int threads, int repeats) {
  constexpr int64_t kBatch = 128;
  const auto channels_last = at::MemoryFormat::ChannelsLast;
  for (const auto& [channels, size] : std::vector<std::pair<int64_t, int64_t>>{{64, 14}, {128, 7}}) {
    auto x = torch::randn({kBatch, channels, size, size}).contiguous(channels_last).requires_grad_(true);
    auto w = (torch::randn({channels, channels, 3, 3}) * 0.05).contiguous(channels_last).requires_grad_(true);
    const auto upstream = torch::randn({kBatch, channels, size, size}).contiguous(channels_last);
    if (!focus::nn::winograd_conv2d(x, w)) {
      std::printf("| %ld -> %ld at %ldx%ld | %d | no Winograd kernel on this CPU or build | | | |\n", channels, channels,
                  size, size, threads);
      continue;
    }
    auto aten = [&] { return at::conv2d(x, w, {}, 1, 1); };
    auto ours = [&] { return *focus::nn::winograd_conv2d(x, w); };
    const int n = std::max(10, repeats / 10);
    const double aten_forward = median_us(aten, n) / 1e3, ours_forward = median_us(ours, n) / 1e3;
    const double aten_both = median_us([&] { aten().backward(upstream); }, n) / 1e3;
    const double ours_both = median_us([&] { ours().backward(upstream); }, n) / 1e3;
    std::printf("| %ld -> %ld at %ldx%ld | %d | %.2f | %.2f | %.2f | %.2f |\n", channels, channels, size, size, threads,
                aten_forward, ours_forward, aten_both, ours_both);
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    int threads = 2, repeats = 300;
    std::string table = "all";
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg.rfind("threads=", 0) == 0)
        threads = std::stoi(arg.substr(8));
      else if (arg.rfind("repeats=", 0) == 0)
        repeats = std::stoi(arg.substr(8));
      else if (arg == "table=all" || arg == "table=conv" || arg == "table=small" || arg == "table=gemm" ||
               arg == "table=winograd")
        table = arg.substr(6);
      else
        throw focus::Error("unknown argument " + arg +
                           " (usage: focus-bench-ops [threads=2] [repeats=300] [table=all|conv|small|gemm|winograd])");
    }
    focus::util::configure_allocator();
    threads = focus::util::configure_threads(threads);
    if (table == "winograd") {
      winograd_rows(threads, repeats);
      return 0;
    }
    // The Fashion CNN's convolutions (stem 16, stages 64 and 128) and FusionNet's on Sort-of-CLEVR.
    const std::vector<Shape> shapes = {{1, 16, 28, 3, 1},  {16, 64, 28, 3, 2}, {64, 64, 14, 3, 1}, {16, 64, 28, 1, 2},
                                       {64, 128, 14, 3, 2}, {128, 128, 7, 3, 1}, {32, 32, 19, 3, 1}, {64, 64, 10, 3, 1}};
    torch::InferenceMode inference;
    torch::manual_seed(0);
    const bool header = table == "all";  // with table=conv|small, rows only (run.sh adds the header once)
    if (header) {
      std::printf("| convolution (batch 1) | memory format | threads | ATen's choice us | focus::nn::conv2d us | oneDNN |\n");
      std::printf("| --- | --- | --- | --- | --- | --- |\n");
    }
    for (const auto& s : table == "small" || table == "gemm" ? std::vector<Shape>{} : shapes) {
      for (const bool channels_last : {false, true}) {
        torch::nn::Conv2d conv(torch::nn::Conv2dOptions(s.in, s.out, s.kernel).stride(s.stride).padding(s.kernel / 2).bias(false));
        auto x = torch::randn({1, s.in, s.size, s.size});
        if (channels_last) {
          conv->weight.set_data(conv->weight.contiguous(at::MemoryFormat::ChannelsLast));
          x = x.contiguous(at::MemoryFormat::ChannelsLast);
        }
        const double aten = median_us([&] { conv->forward(x); }, repeats);
        const double focus = median_us([&] { focus::nn::conv2d(conv, x); }, repeats);
        std::printf("| %ld -> %ld, %ldx%ld, %ldx%ld kernel, stride %ld | %s | %d | %.1f | %.1f | %s |\n", s.in, s.out,
                    s.size, s.size, s.kernel, s.kernel, s.stride, channels_last ? "channels-last" : "NCHW", threads, aten,
                    focus, focus::nn::uses_onednn_directly(*conv, x) ? "yes" : "no");
      }
    }

    // Layer norm over 64 features and softmax over 100 scores, as many rows as a
    // single text or image gives (12-256 tokens, 4 heads) and more.
    auto serial = [](const auto& f) {  // the calling thread only, at any size
      const focus::nn::CallingThreadOnly one;
      f();
    };
    if (table == "conv") return 0;
    if (table != "gemm" && header) {
      std::printf("\n| operator | input | values | threads | ATen us | Focus us | calling thread only us |\n");
      std::printf("| --- | --- | --- | --- | --- | --- | --- |\n");
    }
    torch::nn::LayerNorm norm(torch::nn::LayerNormOptions({64}));
    for (const int64_t rows : table == "gemm" ? std::vector<int64_t>{} : std::vector<int64_t>{16, 64, 128, 256, 512, 1024}) {
      const auto x = torch::randn({rows, 64});
      const double aten = median_us([&] { norm->forward(x); }, repeats);
      const double focus = median_us([&] { focus::nn::layer_norm(norm, x); }, repeats);
      const double one = median_us([&] { serial([&] { norm->forward(x); }); }, repeats);
      std::printf("| layer norm | [%ld, 64] | %ld | %d | %.1f | %.1f | %.1f |\n", rows, rows * 64, threads, aten, focus, one);
    }
    for (const int64_t rows : table == "gemm" ? std::vector<int64_t>{} : std::vector<int64_t>{48, 80, 200, 400, 800}) {
      const auto x = torch::randn({rows, 100});
      const double aten = median_us([&] { torch::softmax(x, -1); }, repeats);
      const double focus = median_us([&] { focus::nn::softmax(x, -1); }, repeats);
      const double one = median_us([&] { serial([&] { torch::softmax(x, -1); }); }, repeats);
      std::printf("| softmax | [%ld, 100] | %ld | %d | %.1f | %.1f | %.1f |\n", rows, rows * 100, threads, aten, focus, one);
    }

    // Products [M, K] x [K, N] as the layers make them: one image's or text's
    // projections (ViT, FusionNet, a 256-token text), training batches, 1024^3.
    if (table == "small") return 0;
    if (header) {
      std::printf("\n| product [M, K] x [K, N] | threads | ATen mm us (GFLOP/s) | Focus us (GFLOP/s) | Focus's engine |\n");
      std::printf("| --- | --- | --- | --- | --- |\n");
    }
    struct Product {
      int64_t m, k, n;
    };
    for (const auto& p : std::vector<Product>{{1, 64, 64},     {12, 64, 64},     {50, 64, 192},   {100, 64, 64},
                                              {256, 128, 384}, {6400, 64, 192}, {8192, 128, 256}, {1024, 1024, 1024}}) {
      const auto a = torch::randn({p.m, p.k}), b = torch::randn({p.n, p.k}).t();  // b as a Linear's weight.t()
      const int product_repeats = p.m * p.k * p.n >= (int64_t{1} << 26) ? std::max(10, repeats / 10) : repeats;
      const double aten = median_us([&] { at::mm(a, b); }, product_repeats);
      const double focus = median_us([&] { focus::nn::row_parallel_mm(a, b); }, product_repeats);
      const double flop = 2.0 * static_cast<double>(p.m * p.k * p.n);
      std::printf("| [%ld, %ld] x [%ld, %ld] | %d | %.1f (%.0f) | %.1f (%.0f) | %s |\n", p.m, p.k, p.k, p.n, threads, aten,
                  flop / aten / 1e3, focus, flop / focus / 1e3, focus::nn::gemm_engine_name());
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "focus-bench-ops: %s\n", e.what());
    return 1;
  }
}
