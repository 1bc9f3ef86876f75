// Uses the installed library: builds an AttentionPool and an AttnCNN and checks their outputs.
#include <focus/models/factory.h>
#include <focus/nn/attention_pool.h>

#include <iostream>

int main() {
  focus::nn::AttentionPool pool(focus::nn::AttentionPoolOptions(4));
  auto out = pool(torch::randn({2, 3, 4}));
  const double total = out.weights.sum().item<double>();
  auto model = focus::models::build_model({{"arch", "attncnn"}}, focus::models::image_input(1, 10), "model");
  focus::data::Batch batch;
  batch.inputs = torch::randn({1, 1, 28, 28});
  const auto logits = model->forward(batch);
  std::cout << "attention weights sum " << total << ", logits " << logits.sizes() << "\n";
  return (std::abs(total - 2.0) < 1e-5 && logits.size(1) == 10) ? 0 : 1;
}
