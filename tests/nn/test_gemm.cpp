// focus::nn::gemm_out: oneDNN's sgemm (or ATen's BLAS) must give ATen's products
// for every operand layout the layers hand it; and the small products of one
// image or text, now on oneDNN too, must keep ATen's values and gradients.
#include <ATen/Parallel.h>
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "focus/nn/batched_matmul.h"
#include "focus/nn/gemm.h"
#include "focus/nn/linear.h"

using namespace focus::nn;

namespace {

torch::Tensor product(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& bias = {}) {
  auto out = torch::empty({a.size(0), b.size(1)}, a.options());
  gemm_out(out, a, b, bias);
  return out;
}

}  // namespace

TEST_CASE("gemm_engine names the engine float32 products take", "[nn]") {
  const std::string name = gemm_engine_name();
  CHECK((name == "onednn" || name == "blas"));
  CHECK((gemm_engine() == GemmEngine::onednn) == (name == "onednn"));
  const auto f = torch::zeros({2, 2});
  CHECK(uses_onednn_gemm(f, f) == (gemm_engine() == GemmEngine::onednn));
  CHECK_FALSE(uses_onednn_gemm(f.to(torch::kDouble), f.to(torch::kDouble)));  // oneDNN has no dgemm
}

TEST_CASE("gemm_out equals mm and addmm for every operand layout", "[nn]") {
  torch::manual_seed(11);
  const auto a = torch::randn({37, 19}), b = torch::randn({19, 23}), bias = torch::randn({23});
  const auto ref = torch::mm(a, b);
  CHECK(torch::allclose(product(a, b), ref, 1e-4, 1e-5));
  CHECK(torch::allclose(product(a, b, bias), torch::addmm(bias, a, b), 1e-4, 1e-5));
  // Transposed views ('T' for the BLAS) on either side and both.
  const auto at = a.t().contiguous().t(), bt = b.t().contiguous().t();
  CHECK(torch::allclose(product(at, b), ref, 1e-4, 1e-5));
  CHECK(torch::allclose(product(a, bt), ref, 1e-4, 1e-5));
  CHECK(torch::allclose(product(at, bt), ref, 1e-4, 1e-5));
  // Row-sliced views (leading dimension larger than the row) and a column slice.
  const auto wide = torch::randn({37, 40});
  const auto a_cols = wide.narrow(1, 5, 19);
  CHECK(torch::allclose(product(a_cols, b), torch::mm(a_cols, b), 1e-4, 1e-5));
  // No unit stride at all: copied, still right.
  const auto strided = torch::randn({74, 38}).slice(0, 0, 74, 2).slice(1, 0, 38, 2);
  REQUIRE(strided.sizes() == torch::IntArrayRef({37, 19}));
  CHECK(torch::allclose(product(strided, b), torch::mm(strided, b), 1e-4, 1e-5));
  // Into an output that is itself a column slice (written through a temporary).
  auto big = torch::full({37, 30}, 7.0f);
  auto window = big.narrow(1, 4, 23);
  gemm_out(window, a, b);
  CHECK(torch::allclose(window, ref, 1e-4, 1e-5));
  CHECK(big.narrow(1, 0, 4).eq(7.0f).all().item<bool>());  // nothing outside the window touched
  CHECK(big.narrow(1, 27, 3).eq(7.0f).all().item<bool>());
}

TEST_CASE("gemm_out handles single rows, single columns and empty sums", "[nn]") {
  torch::manual_seed(12);
  const auto row = torch::randn({1, 64}), w = torch::randn({64, 64});
  CHECK(torch::allclose(product(row, w), torch::mm(row, w), 1e-4, 1e-5));
  const auto col = torch::randn({64, 1});
  CHECK(torch::allclose(product(w, col), torch::mm(w, col), 1e-4, 1e-5));
  // A [1, K] row taken out of a transposed matrix: size-1 dimension with an odd stride.
  const auto odd = torch::randn({64, 5}).t().narrow(0, 2, 1);
  CHECK(torch::allclose(product(odd, w), torch::mm(odd, w), 1e-4, 1e-5));
  const auto bias = torch::randn({3});
  CHECK(torch::equal(product(torch::zeros({4, 0}), torch::zeros({0, 3}), bias), bias.expand({4, 3})));
  CHECK(product(torch::zeros({4, 0}), torch::zeros({0, 3})).eq(0).all().item<bool>());
  CHECK(product(torch::zeros({0, 5}), torch::zeros({5, 3})).numel() == 0);
  CHECK_THROWS(product(torch::zeros({4, 5}), torch::zeros({6, 3})));
}

TEST_CASE("gemm_out leaves other dtypes to ATen", "[nn]") {
  torch::manual_seed(13);
  const auto a = torch::randn({9, 7}, torch::kDouble), b = torch::randn({7, 5}, torch::kDouble);
  CHECK(torch::equal(product(a, b), torch::mm(a, b)));
}

TEST_CASE("a single image's products keep ATen's values and gradients on one and two threads", "[nn]") {
  const int saved = at::get_num_threads();
  for (int threads : {1, 2}) {
    at::set_num_threads(threads);
    torch::manual_seed(14);
    // A ViT's projection and attention products for one 28x28 image: small, on the calling thread.
    auto x = torch::randn({1, 50, 64}, torch::requires_grad());
    auto w = torch::randn({192, 64}, torch::requires_grad());
    auto bias = torch::randn({192}, torch::requires_grad());
    REQUIRE_FALSE(splits_product(x, 50, 64, 192));
    auto y = linear(x, w, bias);
    auto ref = at::linear(x, w, bias);
    CHECK(torch::allclose(y, ref, 1e-4, 1e-5));
    const auto up = torch::randn({1, 50, 192});
    const auto grads = torch::autograd::grad({(y * up).sum()}, {x, w, bias});
    const auto ref_grads = torch::autograd::grad({(ref * up).sum()}, {x, w, bias});
    for (size_t i = 0; i < grads.size(); ++i) CHECK(torch::allclose(grads[i], ref_grads[i], 1e-4, 1e-4));

    auto q = torch::randn({1, 50, 4, 16}, torch::requires_grad());
    auto k = torch::randn({1, 50, 4, 16}, torch::requires_grad());
    const auto qh = q.transpose(1, 2), kt = k.transpose(1, 2).transpose(-2, -1);  // [1, 4, 50, 16] x [1, 4, 16, 50]
    auto s = batched_matmul(qh, kt);
    auto s_ref = torch::matmul(qh, kt);
    CHECK(torch::allclose(s, s_ref, 1e-4, 1e-5));
    const auto up_s = torch::randn({1, 4, 50, 50});
    const auto gs = torch::autograd::grad({(s * up_s).sum()}, {q, k});
    const auto gs_ref = torch::autograd::grad({(s_ref * up_s).sum()}, {q, k});
    CHECK(torch::allclose(gs[0], gs_ref[0], 1e-4, 1e-4));
    CHECK(torch::allclose(gs[1], gs_ref[1], 1e-4, 1e-4));
    // Slices BLAS cannot read in place (no unit stride): copied first.
    const auto every_other = torch::randn({2, 3, 8, 32}).slice(-1, 0, 32, 2), right = torch::randn({2, 3, 16, 5});
    CHECK(torch::allclose(batched_matmul(every_other, right), torch::matmul(every_other, right), 1e-4, 1e-5));
    // All leading dimensions of size 1: a single slice.
    const auto one_q = torch::randn({1, 1, 7, 16}), one_k = torch::randn({1, 1, 16, 9});
    CHECK(torch::allclose(batched_matmul(one_q, one_k), torch::matmul(one_q, one_k), 1e-4, 1e-5));
  }
  at::set_num_threads(saved);
}

TEST_CASE("linear's gradients are differentiable again under create_graph", "[nn]") {
  torch::manual_seed(15);
  auto x = torch::randn({4, 8}, torch::requires_grad());
  auto w = torch::randn({3, 8}, torch::requires_grad());
  const auto y = linear(x, w, torch::Tensor());
  const auto gx = torch::autograd::grad({y.square().sum()}, {x}, {}, true, true)[0];
  const auto ggw = torch::autograd::grad({gx.square().sum()}, {w})[0];
  const auto ref_y = at::linear(x, w);
  const auto ref_gx = torch::autograd::grad({ref_y.square().sum()}, {x}, {}, true, true)[0];
  const auto ref_ggw = torch::autograd::grad({ref_gx.square().sum()}, {w})[0];
  CHECK(torch::allclose(gx, ref_gx, 1e-4, 1e-5));
  CHECK(torch::allclose(ggw, ref_ggw, 1e-3, 1e-4));
}
