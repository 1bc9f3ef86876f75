// focus::nn::layer_norm and softmax: small inputs on the calling thread, the
// same values and gradients as ATen's at every size.
#include <ATen/Parallel.h>
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "focus/nn/small_ops.h"

using focus::nn::CallingThreadOnly;

TEST_CASE("CallingThreadOnly holds the calling thread to one intra-op thread and restores the count", "[nn]") {
  const int before = at::get_num_threads();
  at::set_num_threads(2);
  {
    const CallingThreadOnly one;
    if (CallingThreadOnly::available()) CHECK(at::get_num_threads() == 1);
    else CHECK(at::get_num_threads() == 2);  // a build without OpenMP leaves it
  }
  CHECK(at::get_num_threads() == 2);
  at::set_num_threads(before);
}

TEST_CASE("layer_norm and softmax equal ATen's below and above the serial size", "[nn]") {
  const int before = at::get_num_threads();
  at::set_num_threads(2);
  torch::manual_seed(21);
  torch::nn::LayerNorm norm(torch::nn::LayerNormOptions({64}));
  torch::nn::init::normal_(norm->weight);
  torch::nn::init::normal_(norm->bias);
  for (const int64_t rows : {3, 100, 400}) {  // 192 and 6,400 values on the calling thread, 25,600 split
    INFO(rows << " rows");
    auto x = torch::randn({2, rows, 64}, torch::requires_grad());
    const auto upstream = torch::randn({2, rows, 64});
    auto y = focus::nn::layer_norm(norm, x);
    (y * upstream).sum().backward();
    const auto dx = x.grad().clone(), dw = norm->weight.grad().clone();
    x.mutable_grad().reset();
    norm->zero_grad();
    auto ref = norm->forward(x);
    (ref * upstream).sum().backward();
    CHECK(torch::allclose(y, ref, 1e-5, 1e-6));
    CHECK(torch::allclose(dx, x.grad(), 1e-4, 1e-5));
    CHECK(torch::allclose(dw, norm->weight.grad(), 1e-4, 1e-5));
    norm->zero_grad();

    const auto scores = torch::randn({2, 4, rows, 20});
    CHECK(torch::allclose(focus::nn::softmax(scores, -1), torch::softmax(scores, -1), 1e-6, 1e-7));
    CHECK(torch::allclose(focus::nn::softmax(scores, 2), torch::softmax(scores, 2), 1e-6, 1e-7));
  }
  CHECK(at::get_num_threads() == 2);  // nothing left held to one thread
  at::set_num_threads(before);
}
