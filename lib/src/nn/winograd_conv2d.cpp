#include "focus/nn/winograd_conv2d.h"

#include <ATen/ops/convolution_backward.h>
#include <torch/autograd.h>

#include <cstdlib>
#include <string>
#include <unordered_map>
#include <vector>

#include "focus/util/error.h"
#include "plain_float.h"

#ifdef FOCUS_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace focus::nn {

namespace {

bool enabled_from_environment() {
#ifdef FOCUS_HAVE_ONEDNN
  const char* choice = std::getenv("FOCUS_CONV");
  if (choice == nullptr || std::string(choice).empty() || std::string(choice) == "winograd") return true;
  if (std::string(choice) == "direct") return false;
  throw Error("FOCUS_CONV: expected \"winograd\" or \"direct\", found \"" + std::string(choice) + "\"");
#else
  return false;
#endif
}

#ifdef FOCUS_HAVE_ONEDNN

using dnnl::memory;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

memory::dims dims_of(c10::IntArrayRef values) { return memory::dims(values.begin(), values.end()); }

/// A oneDNN view of a float32 tensor's own memory, strides and all.
memory view_of(const torch::Tensor& t, const dnnl::engine& engine) {
  return memory(memory::desc(dims_of(t.sizes()), memory::data_type::f32, dims_of(t.strides())), engine,
                const_cast<void*>(t.data_ptr()));
}

memory::desc any_format(c10::IntArrayRef sizes) {
  return memory::desc(dims_of(sizes), memory::data_type::f32, memory::format_tag::any);
}

/// One call's oneDNN engine and stream, and the buffers of its reordered operands.
struct Session {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::vector<torch::Tensor> buffers;  // kept alive until the call has finished

  /// `from` itself when it already has layout `to`, else a copy in that layout.
  memory in_layout(const memory& from, const memory::desc& to) {
    if (from.get_desc() == to) return from;
    auto target = scratch(to);
    dnnl::reorder(from, target).execute(stream, const_cast<memory&>(from), target);
    return target;
  }

  /// An uninitialised buffer in layout `desc` (ATen's allocator: 64-byte aligned).
  memory scratch(const memory::desc& desc) {
    buffers.push_back(torch::empty({static_cast<int64_t>(desc.get_size())}, torch::kByte));
    return memory(desc, engine, buffers.back().data_ptr());
  }

  /// Writes `result` (a primitive's output) into `out` when they are not the same memory.
  void write_back(const memory& result, const memory& out) {
    if (result.get_data_handle() != out.get_data_handle())
      dnnl::reorder(result, out).execute(stream, const_cast<memory&>(result), const_cast<memory&>(out));
  }

  /// `out`'s own memory when the primitive writes that layout, else a scratch buffer.
  memory output_for(const memory& out, const memory::desc& produced) {
    return out.get_desc() == produced ? out : scratch(produced);
  }
};

const memory::dims kStride{1, 1}, kPadding{1, 1};

// Always the training kind: for inference oneDNN keeps the weights in a Winograd-domain layout
// that its reorders cannot produce from a plain tensor.
dnnl::convolution_forward::desc forward_desc(c10::IntArrayRef x, c10::IntArrayRef w, c10::IntArrayRef y) {
  return {dnnl::prop_kind::forward_training,
          dnnl::algorithm::convolution_winograd,
          any_format(x),
          any_format(w),
          any_format(y),
          kStride,
          kPadding,
          kPadding};
}

std::vector<int64_t> output_sizes(const torch::Tensor& x, const torch::Tensor& w) {
  return {x.size(0), w.size(0), x.size(2), x.size(3)};
}

/// The forward pass; nothing when oneDNN has no Winograd kernel for it.
std::optional<torch::Tensor> run_forward(const torch::Tensor& x, const torch::Tensor& w) {
  Session session;
  const auto y_sizes = output_sizes(x, w);
  dnnl::convolution_forward::primitive_desc pd;
  try {
    pd = dnnl::convolution_forward::primitive_desc(forward_desc(x.sizes(), w.sizes(), y_sizes), session.engine);
  } catch (const dnnl::error&) {
    return std::nullopt;  // no Winograd kernel on this CPU or for these channels
  }
  auto y = torch::empty(y_sizes, x.options().memory_format(x.suggest_memory_format()));
  const auto y_view = view_of(y, session.engine);
  const auto src = session.in_layout(view_of(x, session.engine), pd.src_desc());
  const auto weights = session.in_layout(view_of(w, session.engine), pd.weights_desc());
  const auto dst = session.output_for(y_view, pd.dst_desc());
  dnnl::convolution_forward(pd).execute(session.stream,
                                        {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}});
  session.write_back(dst, y_view);
  session.stream.wait();
  return y;
}

torch::Tensor input_gradient(Session& session, const dnnl::convolution_forward::primitive_desc& hint,
                             const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& grad_y) {
  const dnnl::convolution_backward_data::primitive_desc pd(
      {dnnl::algorithm::convolution_winograd, any_format(x.sizes()), any_format(w.sizes()),
       any_format(grad_y.sizes()), kStride, kPadding, kPadding},
      session.engine, hint);
  auto grad_x = torch::empty(x.sizes(), x.options().memory_format(x.suggest_memory_format()));
  const auto grad_x_view = view_of(grad_x, session.engine);
  const auto diff_dst = session.in_layout(view_of(grad_y, session.engine), pd.diff_dst_desc());
  const auto weights = session.in_layout(view_of(w, session.engine), pd.weights_desc());
  const auto diff_src = session.output_for(grad_x_view, pd.diff_src_desc());
  dnnl::convolution_backward_data(pd).execute(
      session.stream, {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DIFF_SRC, diff_src}});
  session.write_back(diff_src, grad_x_view);
  return grad_x;
}

torch::Tensor weight_gradient(Session& session, const dnnl::convolution_forward::primitive_desc& hint,
                              const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& grad_y) {
  const dnnl::convolution_backward_weights::primitive_desc pd(
      {dnnl::algorithm::convolution_winograd, any_format(x.sizes()), any_format(w.sizes()),
       any_format(grad_y.sizes()), kStride, kPadding, kPadding},
      session.engine, hint);
  auto grad_w = torch::empty(w.sizes(), w.options().memory_format(w.suggest_memory_format()));
  const auto grad_w_view = view_of(grad_w, session.engine);
  const auto src = session.in_layout(view_of(x, session.engine), pd.src_desc());
  const auto diff_dst = session.in_layout(view_of(grad_y, session.engine), pd.diff_dst_desc());
  const auto diff_weights = session.output_for(grad_w_view, pd.diff_weights_desc());
  dnnl::convolution_backward_weights(pd).execute(
      session.stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_DIFF_WEIGHTS, diff_weights}});
  session.write_back(diff_weights, grad_w_view);
  return grad_w;
}

class WinogradConv : public torch::autograd::Function<WinogradConv> {
 public:
  /// `y` is the forward result, computed before apply() so that a missing kernel can fall back.
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& w,
                               const torch::Tensor& y) {
    ctx->save_for_backward({x, w});
    ctx->mark_dirty({y});  // y becomes the output itself, not a view of it (in-place ops stay allowed)
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& w = saved[1];
    const auto grad_y = grads[0];
    const bool need_x = ctx->needs_input_grad(0), need_w = ctx->needs_input_grad(1);
    torch::Tensor grad_x, grad_w;
    const bool winograd_weights = x.size(2) * x.size(3) <= kMaxWinogradWeightGradPositions;
    if (torch::GradMode::is_enabled() || !winograd_weights) {
      // ATen's direct kernel for the weight (large maps), or for everything under create_graph,
      // where its backward is itself differentiable.
      const bool aten_x = need_x && torch::GradMode::is_enabled();
      const bool aten_w = need_w;
      if (aten_x || aten_w) {
        auto out = at::convolution_backward(grad_y, x, w, c10::nullopt, {1, 1}, {1, 1}, {1, 1}, false, {0, 0}, 1,
                                            {aten_x, aten_w, false});
        if (aten_x) grad_x = std::get<0>(out);
        if (aten_w) grad_w = std::get<1>(out);
      }
    }
    if ((need_x && !grad_x.defined()) || (need_w && !grad_w.defined())) {
      try {
        Session session;
        const auto hint = dnnl::convolution_forward::primitive_desc(
            forward_desc(x.sizes(), w.sizes(), grad_y.sizes()), session.engine);
        const auto gy = grad_y.contiguous(x.suggest_memory_format());
        if (need_x && !grad_x.defined()) grad_x = input_gradient(session, hint, x, w, gy);
        if (need_w && !grad_w.defined()) grad_w = weight_gradient(session, hint, x, w, gy);
        session.stream.wait();
      } catch (const dnnl::error&) {  // a backward primitive oneDNN declines: ATen's kernels instead
        auto out = at::convolution_backward(grad_y, x, w, c10::nullopt, {1, 1}, {1, 1}, {1, 1}, false, {0, 0}, 1,
                                            {need_x, need_w, false});
        grad_x = need_x ? std::get<0>(out) : torch::Tensor();
        grad_w = need_w ? std::get<1>(out) : torch::Tensor();
      }
    }
    return {grad_x, grad_w, torch::Tensor()};
  }
};

#endif  // FOCUS_HAVE_ONEDNN

}  // namespace

bool winograd_enabled() {
  static const bool enabled = enabled_from_environment();
  return enabled;
}

std::optional<torch::Tensor> winograd_conv2d(const torch::Tensor& x, const torch::Tensor& weight) {
  TORCH_CHECK(x.dim() == 4 && weight.dim() == 4 && weight.size(1) == x.size(1) && weight.size(2) == 3 &&
                  weight.size(3) == 3,
              "winograd_conv2d: expected x [B, C, H, W] and weight [O, C, 3, 3], got ", x.sizes(), " and ",
              weight.sizes());
#ifdef FOCUS_HAVE_ONEDNN
  if (!winograd_enabled() || !detail::plain_float_cpu(x) || !detail::plain_float_cpu(weight) || x.numel() == 0 ||
      weight.numel() == 0)
    return std::nullopt;
  const bool graph = torch::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad());
  std::optional<torch::Tensor> y;
  {
    const torch::NoGradGuard no_grad;
    y = run_forward(x, weight);
  }
  if (!y || !graph) return y;
  return WinogradConv::apply(x, weight, *y);
#else
  return std::nullopt;
#endif
}

}  // namespace focus::nn
