#include "focus/nn/batch_norm.h"

#include <ATen/Parallel.h>
#include <torch/autograd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "plain_float.h"
#include "split_over_threads.h"
#include "vector_clones.h"

namespace focus::nn {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The kernels see the map as `rows` = B*H*W rows of C channels (channels-last memory). They work
// on 16 channels at a time in GCC vector types (one AVX-512 register, two AVX2 or four SSE ones
// in the other clones), the channels left over from a multiple of 16 one by one. The sums keep
// four rows' accumulators apart, so that the additions of consecutive rows do not wait on each
// other (with one accumulator kept in memory, the 16-channel stem's sums took one row per ~9 cycles).

// The helpers below are always inlined into the clones, so no vector crosses a call by value
// (lib/CMakeLists.txt silences GCC's note that such a call's ABI would depend on the target).

typedef float Floats16 __attribute__((vector_size(64)));
typedef int32_t Ints16 __attribute__((vector_size(64)));
constexpr int64_t kLanes = 16;

inline __attribute__((always_inline)) Floats16 load16(const float* p) {
  Floats16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline __attribute__((always_inline)) void store16(float* p, const Floats16& v) { std::memcpy(p, &v, sizeof v); }

/// g where t > 0, else 0 (the ReLU's gradient mask; NaN in t gives 0, as ATen's threshold_backward).
inline __attribute__((always_inline)) Floats16 where_positive(const Floats16& t, const Floats16& g) {
  return (Floats16)((Ints16)g & (Ints16)(t > Floats16{}));
}

/// max(v, 0), NaN kept (as torch::relu and std::max(v, 0.0f)).
inline __attribute__((always_inline)) Floats16 relu16(const Floats16& v) {
  return (Floats16)((Ints16)v & ~(Ints16)(v < Floats16{}));
}

/// Adds the four accumulators' lanes to the float64 totals of channels [c0, c0 + 16).
inline __attribute__((always_inline)) void add_lanes(const Floats16 (&acc)[4], double* total) {
  for (int64_t k = 0; k < kLanes; ++k)
    total[k] += static_cast<double>(acc[0][k]) + acc[1][k] + static_cast<double>(acc[2][k]) + acc[3][k];
}

/// For rows [first, last): add_row(r, a, b) adds row r's two per-channel terms to the accumulators
/// a and b; consecutive rows go to four accumulator pairs in turn, whose lanes are then added to
/// the float64 totals of 16 channels.
template <typename AddRow>
inline __attribute__((always_inline)) void sum_rows_by_four(int64_t first, int64_t last, const AddRow& add_row,
                                                            double* first_total, double* second_total) {
  Floats16 a[4] = {}, b[4] = {};
  int64_t r = first;
  for (; r + 4 <= last; r += 4) {
    add_row(r, a[0], b[0]);
    add_row(r + 1, a[1], b[1]);
    add_row(r + 2, a[2], b[2]);
    add_row(r + 3, a[3], b[3]);
  }
  for (; r < last; ++r) add_row(r, a[0], b[0]);
  add_lanes(a, first_total);
  add_lanes(b, second_total);
}

/// Adds rows [begin, end)'s sums of (x - pilot) and (x - pilot)^2 per channel to sum and squares.
/// Float32 over blocks of 64 rows, float64 across blocks; the pilot (the first row) keeps the
/// squares from cancelling when a channel's mean is far from zero.
FOCUS_VECTOR_CLONES void shifted_sums(const float* x, int64_t begin, int64_t end, int64_t channels,
                                      const float* pilot, double* sum, double* squares) {
  const int64_t vector_channels = channels - channels % kLanes;
  for (int64_t block = begin; block < end; block += 64) {
    const int64_t last = std::min(end, block + 64);
    for (int64_t c0 = 0; c0 < vector_channels; c0 += kLanes) {
      const Floats16 p = load16(pilot + c0);
      auto add_row = [&](int64_t r, Floats16& s_acc, Floats16& q_acc) __attribute__((always_inline)) {
        const Floats16 d = load16(x + r * channels + c0) - p;
        s_acc += d;
        q_acc += d * d;
      };
      sum_rows_by_four(block, last, add_row, sum + c0, squares + c0);
    }
    for (int64_t c = vector_channels; c < channels; ++c) {
      float s = 0, q = 0;
      for (int64_t r = block; r < last; ++r) {
        const float d = x[r * channels + c] - pilot[c];
        s += d;
        q += d * d;
      }
      sum[c] += s;
      squares[c] += q;
    }
  }
}

/// y = (x - mean) * scale + shift per channel, then max(0, y) when relu. (Subtracting the mean
/// first keeps the precision of channels whose mean is large against their spread.)
FOCUS_VECTOR_CLONES void affine(const float* x, float* y, int64_t begin, int64_t end, int64_t channels,
                                const float* mean, const float* scale, const float* shift, bool relu) {
  const int64_t vector_channels = channels - channels % kLanes;
  for (int64_t r = begin; r < end; ++r) {
    const float* in = x + r * channels;
    float* out = y + r * channels;
    for (int64_t c = 0; c < vector_channels; c += kLanes) {
      Floats16 v = (load16(in + c) - load16(mean + c)) * load16(scale + c) + load16(shift + c);
      if (relu) v = relu16(v);
      store16(out + c, v);
    }
    for (int64_t c = vector_channels; c < channels; ++c) {
      const float v = (in[c] - mean[c]) * scale[c] + shift[c];
      out[c] = relu ? std::max(v, 0.0f) : v;
    }
  }
}

/// Per channel, over rows [begin, end): sum of the gradient g' reaching the normalisation (g, or
/// g where (x - mean) * scale + shift > 0 when relu) and of g' * (x - mean).
FOCUS_VECTOR_CLONES void gradient_sums(const float* g, const float* x, int64_t begin, int64_t end, int64_t channels,
                                       const float* mean, const float* scale, const float* shift, bool relu,
                                       double* sum_g, double* sum_gx) {
  const int64_t vector_channels = channels - channels % kLanes;
  for (int64_t block = begin; block < end; block += 64) {
    const int64_t last = std::min(end, block + 64);
    for (int64_t c0 = 0; c0 < vector_channels; c0 += kLanes) {
      const Floats16 m = load16(mean + c0), sc = load16(scale + c0), sh = load16(shift + c0);
      auto add_row = [&](int64_t r, Floats16& s_acc, Floats16& q_acc) __attribute__((always_inline)) {
        const Floats16 d = load16(x + r * channels + c0) - m;
        Floats16 gg = load16(g + r * channels + c0);
        if (relu) gg = where_positive(d * sc + sh, gg);
        s_acc += gg;
        q_acc += gg * d;
      };
      sum_rows_by_four(block, last, add_row, sum_g + c0, sum_gx + c0);
    }
    for (int64_t c = vector_channels; c < channels; ++c) {
      float s = 0, q = 0;
      for (int64_t r = block; r < last; ++r) {
        const float d = x[r * channels + c] - mean[c];
        const float gg = relu && !(d * scale[c] + shift[c] > 0.0f) ? 0.0f : g[r * channels + c];
        s += gg;
        q += gg * d;
      }
      sum_g[c] += s;
      sum_gx[c] += q;
    }
  }
}

/// dx = a * g' + b * (x - mean) + k per channel (g' as in gradient_sums).
FOCUS_VECTOR_CLONES void input_gradient(const float* g, const float* x, float* dx, int64_t begin, int64_t end,
                                        int64_t channels, const float* mean, const float* scale, const float* shift,
                                        bool relu, const float* a, const float* b, const float* k) {
  const int64_t vector_channels = channels - channels % kLanes;
  for (int64_t r = begin; r < end; ++r) {
    const float* gr = g + r * channels;
    const float* xr = x + r * channels;
    float* out = dx + r * channels;
    for (int64_t c = 0; c < vector_channels; c += kLanes) {
      const Floats16 d = load16(xr + c) - load16(mean + c);
      Floats16 gg = load16(gr + c);
      if (relu) gg = where_positive(d * load16(scale + c) + load16(shift + c), gg);
      store16(out + c, load16(a + c) * gg + load16(b + c) * d + load16(k + c));
    }
    for (int64_t c = vector_channels; c < channels; ++c) {
      const float d = xr[c] - mean[c];
      const float gg = relu && !(d * scale[c] + shift[c] > 0.0f) ? 0.0f : gr[c];
      out[c] = a[c] * gg + b[c] * d + k[c];
    }
  }
}

/// Cuts `rows` rows into one block per intra-op thread (each at least 256 rows; one block when
/// the work may not be split) and runs body(block, begin, end) for each, in parallel.
template <typename Body>
int64_t over_row_blocks(int64_t rows, int64_t channels, bool split, const Body& body) {
  const int64_t most = split ? std::max<int64_t>(1, rows * channels / 16384) : 1;
  const int64_t blocks = std::max<int64_t>(1, std::min<int64_t>({static_cast<int64_t>(at::get_num_threads()),
                                                                 most, (rows + 255) / 256}));
  const int64_t per = (rows + blocks - 1) / blocks;
  auto run = [&](int64_t first, int64_t last) {
    for (int64_t i = first; i < last; ++i) body(i, i * per, std::min(rows, (i + 1) * per));
  };
  if (blocks > 1)
    detail::split_over_threads(blocks, 1, run);
  else
    run(0, 1);
  return blocks;
}

/// Per-block float64 partial sums of two per-channel quantities, [blocks, 2, C], and their totals.
struct Partials {
  Partials(int64_t blocks, int64_t channels) : channels(channels), values(blocks * 2 * channels, 0.0) {}
  double* first(int64_t block) { return values.data() + block * 2 * channels; }
  double* second(int64_t block) { return first(block) + channels; }
  /// The sum over the first `blocks` blocks of quantity q (0: first, 1: second) for channel c.
  double total(int q, int64_t c, int64_t blocks) const {
    double t = 0;
    for (int64_t i = 0; i < blocks; ++i) t += values[(i * 2 + q) * channels + c];
    return t;
  }
  int64_t channels;
  std::vector<double> values;
};

torch::Tensor channel_vector(const std::vector<float>& v) { return torch::tensor(v); }

/// Training-mode batch norm (+ ReLU) over a channels-last float32 map. Inputs: x, weight, bias;
/// the running statistics are updated in the forward pass (saved_data carries the factor).
class BatchNormTrain : public torch::autograd::Function<BatchNormTrain> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, torch::Tensor running_mean, torch::Tensor running_var,
                               double momentum, double eps, bool relu) {
    const int64_t channels = x.size(1), rows = x.numel() / channels;
    const float* xp = x.data_ptr<float>();
    const bool split = detail::may_split(x);
    const std::vector<float> pilot(xp, xp + channels);
    Partials partials(std::max<int64_t>(1, at::get_num_threads()), channels);
    const int64_t blocks = over_row_blocks(rows, channels, split, [&](int64_t i, int64_t begin, int64_t end) {
      shifted_sums(xp, begin, end, channels, pilot.data(), partials.first(i), partials.second(i));
    });
    const auto w = weight.contiguous(), b = bias.contiguous();
    const float* wp = w.data_ptr<float>();
    const float* bp = b.data_ptr<float>();
    std::vector<float> mean(channels), invstd(channels), scale(channels), shift(channels), unbiased(channels);
    const double n = static_cast<double>(rows);
    for (int64_t c = 0; c < channels; ++c) {
      const double s = partials.total(0, c, blocks), q = partials.total(1, c, blocks);
      const double m = s / n, var = std::max(0.0, q / n - (s / n) * (s / n));
      mean[c] = static_cast<float>(pilot[c] + m);
      invstd[c] = static_cast<float>(1.0 / std::sqrt(var + eps));
      unbiased[c] = static_cast<float>(rows > 1 ? var * n / (n - 1) : var);
      scale[c] = wp[c] * invstd[c];
      shift[c] = bp[c];
    }
    auto y = torch::empty_like(x, torch::MemoryFormat::ChannelsLast);
    float* yp = y.data_ptr<float>();
    over_row_blocks(rows, channels, split, [&](int64_t, int64_t begin, int64_t end) {
      affine(xp, yp, begin, end, channels, mean.data(), scale.data(), shift.data(), relu);
    });
    if (running_mean.defined()) {
      torch::NoGradGuard no_grad;
      running_mean.mul_(1 - momentum).add_(channel_vector(mean).to(running_mean.options()), momentum);
      running_var.mul_(1 - momentum).add_(channel_vector(unbiased).to(running_var.options()), momentum);
    }
    ctx->save_for_backward({x, weight, bias});
    ctx->saved_data["mean"] = channel_vector(mean);
    ctx->saved_data["invstd"] = channel_vector(invstd);
    ctx->saved_data["scale"] = channel_vector(scale);
    ctx->saved_data["shift"] = channel_vector(shift);
    ctx->saved_data["eps"] = eps;
    ctx->saved_data["relu"] = relu;
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &weight = saved[1], &bias = saved[2];
    const bool relu = ctx->saved_data["relu"].toBool();
    const variable_list none(5);  // the running statistics, momentum, eps, relu
    if (torch::GradMode::is_enabled()) {  // create_graph: differentiate ATen's formulation
      const double eps = ctx->saved_data["eps"].toDouble();
      auto y = torch::batch_norm(x, weight, bias, {}, {}, /*training=*/true, 0.0, eps, /*cudnn_enabled=*/false);
      if (relu) y = torch::relu(y);
      const torch::Tensor inputs[] = {x, weight, bias};
      std::vector<torch::Tensor> wrt;
      for (size_t i = 0; i < 3; ++i)
        if (ctx->needs_input_grad(i)) wrt.push_back(inputs[i]);
      variable_list out(8);
      if (wrt.empty()) return out;
      auto g = torch::autograd::grad({y}, wrt, {grads[0]}, /*retain_graph=*/true, /*create_graph=*/true,
                                     /*allow_unused=*/true);
      for (size_t i = 0, k = 0; i < 3; ++i)
        if (ctx->needs_input_grad(i)) out[i] = g[k++];
      return out;
    }
    const auto g = grads[0].contiguous(torch::MemoryFormat::ChannelsLast);
    const auto mean = ctx->saved_data["mean"].toTensor(), invstd = ctx->saved_data["invstd"].toTensor();
    const auto scale = ctx->saved_data["scale"].toTensor(), shift = ctx->saved_data["shift"].toTensor();
    const int64_t channels = x.size(1), rows = x.numel() / channels;
    const float* xp = x.data_ptr<float>();
    const float* gp = g.data_ptr<float>();
    const float *mp = mean.data_ptr<float>(), *ip = invstd.data_ptr<float>();
    const float *sp = scale.data_ptr<float>(), *hp = shift.data_ptr<float>();
    const bool split = detail::may_split(x);
    Partials partials(std::max<int64_t>(1, at::get_num_threads()), channels);
    const int64_t blocks = over_row_blocks(rows, channels, split, [&](int64_t i, int64_t begin, int64_t end) {
      gradient_sums(gp, xp, begin, end, channels, mp, sp, hp, relu, partials.first(i), partials.second(i));
    });
    const auto w = weight.contiguous();
    const float* wp = w.data_ptr<float>();
    std::vector<float> a(channels), b(channels), k(channels), grad_weight(channels), grad_bias(channels);
    const double n = static_cast<double>(rows);
    for (int64_t c = 0; c < channels; ++c) {
      const double sum_g = partials.total(0, c, blocks), sum_gx = partials.total(1, c, blocks);
      const double inv = ip[c], gamma_inv = static_cast<double>(wp[c]) * inv;
      // dx = gamma * invstd * (g' - mean(g') - (x - mean) * invstd^2 * mean(g' * (x - mean)))
      a[c] = static_cast<float>(gamma_inv);
      b[c] = static_cast<float>(-gamma_inv * inv * inv * sum_gx / n);
      k[c] = static_cast<float>(-gamma_inv * sum_g / n);
      grad_weight[c] = static_cast<float>(sum_gx * inv);
      grad_bias[c] = static_cast<float>(sum_g);
    }
    torch::Tensor grad_x;
    if (ctx->needs_input_grad(0)) {
      grad_x = torch::empty_like(x, torch::MemoryFormat::ChannelsLast);
      float* dxp = grad_x.data_ptr<float>();
      over_row_blocks(rows, channels, split, [&](int64_t, int64_t begin, int64_t end) {
        input_gradient(gp, xp, dxp, begin, end, channels, mp, sp, hp, relu, a.data(), b.data(), k.data());
      });
    }
    variable_list out = {grad_x, channel_vector(grad_weight).to(weight.options()),
                         channel_vector(grad_bias).to(bias.options())};
    out.insert(out.end(), none.begin(), none.end());
    return out;
  }
};

bool fast_path(const torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x) {
  if (!bn.options.affine() || !bn.options.track_running_stats() || x.dim() != 4 || x.numel() == 0 ||
      !detail::plain_float_cpu(x) || !x.is_contiguous(torch::MemoryFormat::ChannelsLast))
    return false;
  // The loops read C values of each: anything else (a checkpoint that resized them, another
  // dtype) goes to BatchNorm2d's forward, which checks.
  for (const auto* t : {&bn.weight, &bn.bias, &bn.running_mean, &bn.running_var})
    if (!t->defined() || !detail::plain_float_cpu(*t) || t->numel() != x.size(1)) return false;
  return true;
}

/// Evaluation with the running statistics and no graph: one pass.
torch::Tensor batch_norm_eval(const torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x, bool relu) {
  const int64_t channels = x.size(1), rows = x.numel() / channels;
  const auto rm = bn.running_mean.contiguous(), rv = bn.running_var.contiguous();
  const auto w = bn.weight.contiguous(), b = bn.bias.contiguous();
  std::vector<float> scale(channels);
  for (int64_t c = 0; c < channels; ++c)
    scale[c] = static_cast<float>(w.data_ptr<float>()[c] /
                                  std::sqrt(static_cast<double>(rv.data_ptr<float>()[c]) + bn.options.eps()));
  auto y = torch::empty_like(x, torch::MemoryFormat::ChannelsLast);
  const float* xp = x.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  over_row_blocks(rows, channels, detail::may_split(x), [&](int64_t, int64_t begin, int64_t end) {
    affine(xp, yp, begin, end, channels, rm.data_ptr<float>(), scale.data(), b.data_ptr<float>(), relu);
  });
  return y;
}

}  // namespace

torch::Tensor batch_norm(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x, bool relu) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == bn.options.num_features(), "batch_norm: expected a feature map [B, ",
              bn.options.num_features(), ", H, W], got ", x.sizes());
  if (fast_path(bn, x)) {
    if (bn.is_training()) {
      TORCH_CHECK(x.numel() / x.size(1) > 1, "batch_norm: expected more than 1 value per channel when training, got ",
                  x.sizes());
      // The running-average factor, as BatchNorm2d's forward computes it.
      bn.num_batches_tracked += 1;
      const double momentum = bn.options.momentum().has_value()
                                  ? *bn.options.momentum()
                                  : 1.0 / bn.num_batches_tracked.item<double>();
      return BatchNormTrain::apply(x, bn.weight, bn.bias, bn.running_mean, bn.running_var, momentum, bn.options.eps(),
                                   relu);
    }
    const bool records = torch::GradMode::is_enabled() &&
                         (x.requires_grad() || bn.weight.requires_grad() || bn.bias.requires_grad());
    if (!records) return batch_norm_eval(bn, x, relu);
  }
  auto y = bn.forward(x);
  return relu ? torch::relu(y) : y;
}

}  // namespace focus::nn
