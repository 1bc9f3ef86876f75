// focus::nn::linear and batched_matmul: products split over LibTorch's threads must give
// ATen's linear and matmul (values and gradients), whichever path a product takes.
#include <ATen/Parallel.h>
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "focus/nn/batched_matmul.h"
#include "focus/nn/linear.h"
#include "thread_count.h"

using namespace focus::nn;

namespace {

using focus::testing::ThreadCount;

}  // namespace

TEST_CASE("row_parallel_mm splits large products only with more than one thread", "[nn]") {
  const auto like = torch::zeros({1});
  {
    ThreadCount one(1);
    CHECK_FALSE(splits_product(like, 4096, 128, 128));
  }
  ThreadCount two(2);
  CHECK(splits_product(like, 4096, 128, 128));
  CHECK_FALSE(splits_product(like, 8, 128, 128));                              // too few rows
  CHECK_FALSE(splits_product(like, 64, 4, 4));                                 // too little work
  CHECK_FALSE(splits_product(like, 100, 64, 192));  // one image's projections: not worth a hand-off
  CHECK_FALSE(splits_product(torch::zeros({1}, torch::kLong), 4096, 128, 128));  // not a BLAS dtype
}

TEST_CASE("row_parallel_mm equals mm and addmm, transposed operands included", "[nn]") {
  ThreadCount two(2);
  torch::manual_seed(3);
  const auto a = torch::randn({1001, 96});
  const auto b = torch::randn({96, 130});
  const auto bias = torch::randn({130});
  REQUIRE(splits_product(a, 1001, 96, 130));
  CHECK(torch::allclose(row_parallel_mm(a, b), torch::mm(a, b), 1e-4, 1e-5));
  CHECK(torch::allclose(row_parallel_mm(a, b, bias), torch::addmm(bias, a, b), 1e-4, 1e-5));
  const auto at = torch::randn({96, 1001}).t();  // column-major rows, as dy.t() in the backward pass
  const auto bt = torch::randn({130, 96}).t();
  CHECK(torch::allclose(row_parallel_mm(at, bt), torch::mm(at, bt), 1e-4, 1e-5));
  CHECK_THROWS(row_parallel_mm(a, torch::randn({95, 4})));
}

TEST_CASE("linear's split path gives ATen's values and gradients", "[nn]") {
  ThreadCount two(2);
  torch::manual_seed(4);
  for (bool with_bias : {true, false}) {
    auto x = torch::randn({6, 200, 64}, torch::requires_grad());
    auto w = torch::randn({96, 64}, torch::requires_grad());
    auto b = with_bias ? torch::randn({96}, torch::requires_grad()) : torch::Tensor();
    REQUIRE(splits_product(x, 1200, 64, 96));
    const auto upstream = torch::randn({6, 200, 96});

    auto y = linear(x, w, b);
    (y * upstream).sum().backward();
    const auto gx = x.grad().clone(), gw = w.grad().clone();
    const auto gb = with_bias ? b.grad().clone() : torch::Tensor();
    x.mutable_grad().reset();
    w.mutable_grad().reset();
    if (with_bias) b.mutable_grad().reset();

    auto ref = at::linear(x, w, b);
    (ref * upstream).sum().backward();
    CHECK(y.sizes() == ref.sizes());
    CHECK(torch::allclose(y, ref, 1e-4, 1e-5));
    CHECK(torch::allclose(gx, x.grad(), 1e-4, 1e-5));
    CHECK(torch::allclose(gw, w.grad(), 1e-3, 1e-4));
    if (with_bias) CHECK(torch::allclose(gb, b.grad(), 1e-4, 1e-5));
  }
}

TEST_CASE("linear without gradients and on one thread gives ATen's values", "[nn]") {
  torch::manual_seed(5);
  const auto x = torch::randn({4, 1000, 32});
  const auto w = torch::randn({48, 32});
  const auto b = torch::randn({48});
  const auto ref = at::linear(x, w, b);
  {
    ThreadCount two(2);
    REQUIRE(splits_product(x, 4000, 32, 48));
    torch::NoGradGuard no_grad;
    CHECK(torch::allclose(linear(x, w, b), ref, 1e-4, 1e-5));
  }
  {
    // The worker threads write into an inference tensor: they must run in the caller's inference mode.
    ThreadCount two(2);
    c10::InferenceMode inference;
    const auto xi = torch::randn({4, 1000, 32}), wi = w.clone(), bi = b.clone();
    CHECK(torch::allclose(linear(xi, wi, bi), at::linear(xi, wi, bi), 1e-4, 1e-5));
    const auto q = torch::randn({2, 4, 160, 32}), k = torch::randn({2, 4, 32, 160});
    REQUIRE(splits_batches(q, {2, 4}, 160, 32, 160));
    CHECK(torch::allclose(batched_matmul(q, k), torch::matmul(q, k), 1e-4, 1e-5));
  }
  ThreadCount one(1);
  CHECK(torch::allclose(linear(x, w, b), ref, 1e-4, 1e-5));
  CHECK(linear(torch::randn({32}), w, b).sizes() == torch::IntArrayRef({48}));  // a single vector
}

TEST_CASE("batched_matmul splits batches only with more than one thread and enough work", "[nn]") {
  const auto like = torch::zeros({1});
  {
    ThreadCount one(1);
    CHECK_FALSE(splits_batches(like, {8, 4}, 128, 32, 128));
  }
  ThreadCount two(2);
  CHECK(splits_batches(like, {8, 4}, 128, 32, 128));
  CHECK(splits_batches(like, {1, 4}, 256, 32, 256));  // batch 1: split along the heads
  CHECK_FALSE(splits_batches(like, {1, 1}, 256, 32, 256));  // a single slice
  CHECK_FALSE(splits_batches(like, {2, 2}, 8, 8, 8));       // too little work
  CHECK_FALSE(splits_batches(like, {1, 4}, 50, 16, 50));    // a single image's ViT scores: not worth a hand-off
}

TEST_CASE("batched_matmul gives matmul's values and gradients on strided attention views", "[nn]") {
  ThreadCount two(2);
  torch::manual_seed(6);
  // 64 tokens: chunks of slices through bmm; 128 and more: slice by slice on strided views.
  for (auto [batch, length] : {std::pair<int64_t, int64_t>{12, 64}, {15, 64}, {1, 256}, {3, 128}}) {
    // Queries and keys as attention makes them: [B, L, H, d] viewed as [B, H, L, d].
    auto q = torch::randn({batch, length, 3, 32}, torch::requires_grad());
    auto k = torch::randn({batch, length, 3, 32}, torch::requires_grad());
    const auto qh = q.transpose(1, 2), kt = k.transpose(1, 2).transpose(-2, -1);
    REQUIRE(splits_batches(qh, {batch, 3}, length, 32, length));
    const auto upstream = torch::randn({batch, 3, length, length});

    auto y = batched_matmul(qh, kt);
    (y * upstream).sum().backward();
    const auto gq = q.grad().clone(), gk = k.grad().clone();
    q.mutable_grad().reset();
    k.mutable_grad().reset();

    auto ref = torch::matmul(qh, kt);
    (ref * upstream).sum().backward();
    CHECK(y.sizes() == ref.sizes());
    CHECK(y.is_contiguous());
    CHECK(torch::allclose(y, ref, 1e-4, 1e-5));
    CHECK(torch::allclose(gq, q.grad(), 1e-4, 1e-5));
    CHECK(torch::allclose(gk, k.grad(), 1e-4, 1e-5));
  }
  // Leading dimensions that differ go to matmul (which broadcasts), not to the split.
  const auto a = torch::randn({4, 1, 20, 8}), b = torch::randn({4, 3, 8, 20});
  CHECK(torch::allclose(batched_matmul(a, b), torch::matmul(a, b)));
}
