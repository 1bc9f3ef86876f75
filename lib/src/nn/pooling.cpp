#include "focus/nn/pooling.h"

#include <ATen/Dispatch.h>
#include <torch/autograd.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "split_over_threads.h"

namespace focus::nn {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

void check_feature_map(const torch::Tensor& x, const char* op) {
  TORCH_CHECK(x.dim() == 4, op, ": expected a feature map [B, C, H, W], got ", x.sizes());
}

void check_not_empty(int64_t reduced, const char* op, const torch::Tensor& x) {
  TORCH_CHECK(reduced > 0, op, ": the maximum over an empty axis is undefined, got ", x.sizes());
}

/// Mean over the positions (over_channels false, [B, C]) or the channels (true, [B, 1, H, W]).
class BroadcastMean : public torch::autograd::Function<BroadcastMean> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, bool over_channels) {
    ctx->saved_data["sizes"] = x.sizes().vec();
    ctx->saved_data["over_channels"] = over_channels;
    return over_channels ? x.mean(1, true) : x.mean({2, 3});
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto sizes = ctx->saved_data["sizes"].toIntVector();
    const bool over_channels = ctx->saved_data["over_channels"].toBool();
    const auto count = static_cast<double>(over_channels ? sizes[1] : sizes[2] * sizes[3]);
    auto g = grads[0] / count;
    if (!over_channels) g = g.unsqueeze(-1).unsqueeze(-1);
    return {g.expand(sizes), torch::Tensor()};
  }
};

/// Where in a [B, kept, reduced] strided view each maximum (values, [B, kept], from ATen's
/// amax) first occurs along the reduced axis; a NaN maximum is found at the first NaN.
template <typename T>
void first_index_of(const T* x, const T* values, int64_t batch, int64_t kept, int64_t reduced, int64_t s_batch,
                    int64_t s_kept, int64_t s_reduced, int64_t* indices, bool split) {
  auto holds = [](T v, T best) { return v == best || (best != best && v != v); };
  detail::split_by_image(batch, kept * reduced, split, [&](int64_t begin, int64_t end) {
    const bool rows = s_kept == 1 && reduced <= std::numeric_limits<int32_t>::max();
    std::vector<int32_t> row_index(rows ? kept : 0);
    for (int64_t b = begin; b < end; ++b) {
      const T* xb = x + b * s_batch;
      const T* vb = values + b * kept;
      int64_t* ib = indices + b * kept;
      if (rows) {  // channels-last positions: whole rows, one branch-free (vectorised) select each
        // Backwards, so that the first occurrence is written last; a NaN maximum equals nothing here
        // and is looked up below.
        std::fill(row_index.begin(), row_index.end(), -1);
        for (int64_t r = reduced - 1; r >= 0; --r) {
          const T* row = xb + r * s_reduced;
          const auto at = static_cast<int32_t>(r);
          for (int64_t k = 0; k < kept; ++k) row_index[k] = row[k] == vb[k] ? at : row_index[k];
        }
        for (int64_t k = 0; k < kept; ++k) {
          if (row_index[k] >= 0) {
            ib[k] = row_index[k];
            continue;
          }
          int64_t r = 0;  // a NaN maximum: its first NaN
          while (r + 1 < reduced && !holds(xb[k + r * s_reduced], vb[k])) ++r;
          ib[k] = r;
        }
      } else {  // scan each line until the maximum turns up
        for (int64_t k = 0; k < kept; ++k) {
          const T* line = xb + k * s_kept;
          int64_t r = 0;
          while (r + 1 < reduced && !holds(line[r * s_reduced], vb[k])) ++r;
          ib[k] = r;
        }
      }
    }
  });
}

/// Whether a maximum goes through FirstMax: it records a graph (without one ATen's amax is the
/// faster forward pass) over a float CPU tensor.
bool native_max(const torch::Tensor& x) {
  return torch::GradMode::is_enabled() && x.requires_grad() && x.device().is_cpu() && x.layout() == torch::kStrided &&
         (x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kDouble);
}

/// Maximum over the positions (over_channels false, [B, C]) or the channels (true, [B, 1, H, W]).
class FirstMax : public torch::autograd::Function<FirstMax> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, bool over_channels) {
    const int64_t batch = x.size(0), channels = x.size(1), positions = x.size(2) * x.size(3);
    const auto flat = x.flatten(2);  // [B, C, P]: a view for contiguous and channels-last maps
    const int64_t kept = over_channels ? positions : channels, reduced = over_channels ? channels : positions;
    // The result itself, not a view of it (outputs that are views cannot be modified in place).
    const auto values = (over_channels ? x.amax(1, true) : x.amax({2, 3})).contiguous();  // [B, kept] in memory
    auto indices = torch::empty({batch, kept}, x.options().dtype(torch::kLong));
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "focus::nn max", [&] {
      first_index_of<scalar_t>(flat.data_ptr<scalar_t>(), values.data_ptr<scalar_t>(), batch, kept, reduced,
                               flat.stride(0), over_channels ? flat.stride(2) : flat.stride(1),
                               over_channels ? flat.stride(1) : flat.stride(2), indices.data_ptr<int64_t>(),
                               detail::may_split(x));
    });
    ctx->save_for_backward({indices});
    ctx->saved_data["sizes"] = x.sizes().vec();
    ctx->saved_data["over_channels"] = over_channels;
    ctx->saved_data["channels_last"] = x.suggest_memory_format() == torch::MemoryFormat::ChannelsLast;
    return values;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto indices = ctx->get_saved_variables()[0];
    const auto sizes = ctx->saved_data["sizes"].toIntVector();
    const bool over_channels = ctx->saved_data["over_channels"].toBool();
    const auto format = ctx->saved_data["channels_last"].toBool() ? torch::MemoryFormat::ChannelsLast
                                                                  : torch::MemoryFormat::Contiguous;
    auto grad_x = torch::zeros(sizes, grads[0].options().memory_format(format));
    auto flat = grad_x.flatten(2);  // a view of grad_x, [B, C, P]
    if (over_channels)
      flat.scatter_(1, indices.unsqueeze(1), grads[0].flatten(2));
    else
      flat.scatter_(2, indices.unsqueeze(2), grads[0].unsqueeze(2));
    return {grad_x, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor spatial_mean(const torch::Tensor& x) {
  check_feature_map(x, "spatial_mean");
  return BroadcastMean::apply(x, false);
}

torch::Tensor channel_mean(const torch::Tensor& x) {
  check_feature_map(x, "channel_mean");
  return BroadcastMean::apply(x, true);
}

torch::Tensor spatial_max(const torch::Tensor& x) {
  check_feature_map(x, "spatial_max");
  check_not_empty(x.size(2) * x.size(3), "spatial_max", x);
  return native_max(x) ? FirstMax::apply(x, false) : x.amax({2, 3});
}

torch::Tensor channel_max(const torch::Tensor& x) {
  check_feature_map(x, "channel_max");
  check_not_empty(x.size(1), "channel_max", x);
  return native_max(x) ? FirstMax::apply(x, true) : x.amax(1, true);
}

}  // namespace focus::nn
