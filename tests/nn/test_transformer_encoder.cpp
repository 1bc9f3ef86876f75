// Pre-norm Transformer encoder: reference composition, weights, padding.
#include <ATen/Parallel.h>
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "focus/nn/transformer_encoder.h"

using namespace focus::nn;
using torch::indexing::Slice;

TEST_CASE("TransformerEncoderLayer is x + MHA(LN(x)), then + FFN(LN(.)) with GELU", "[nn]") {
  torch::manual_seed(0);
  TransformerEncoderLayer layer(TransformerEncoderLayerOptions(8, 2).ff_dim(16).dropout(0.0));
  layer->eval();
  auto x = torch::randn({2, 5, 8});
  auto out = layer(x);
  auto n1 = layer->norm1(x);
  auto y = x + layer->attention(n1, n1, n1).output;
  auto ref = y + layer->ff2(torch::gelu(layer->ff1(layer->norm2(y))));
  CHECK(torch::allclose(out.output, ref, 1e-5, 1e-6));
  CHECK(out.weights.sizes() == torch::IntArrayRef({2, 2, 5, 5}));
}

TEST_CASE("TransformerEncoder returns every layer's attention on request", "[nn]") {
  torch::manual_seed(1);
  TransformerEncoder enc(TransformerEncoderOptions(TransformerEncoderLayerOptions(8, 4).dropout(0.0), 3));
  enc->eval();
  auto x = torch::randn({2, 6, 8});
  auto with = enc->forward(x, {}, true);
  auto without = enc(x);
  CHECK(with.weights.size() == 3);
  CHECK(without.weights.empty());
  CHECK(torch::allclose(with.output, without.output));
  for (const auto& w : with.weights) {
    CHECK(w.sizes() == torch::IntArrayRef({2, 4, 6, 6}));
    CHECK(torch::allclose(w.sum(-1), torch::ones({2, 4, 6}), 1e-5, 1e-6));
  }
}

TEST_CASE("TransformerEncoder: padding keys do not change the real positions", "[nn]") {
  torch::manual_seed(2);
  TransformerEncoder enc(TransformerEncoderOptions(TransformerEncoderLayerOptions(8, 2).dropout(0.0), 2));
  enc->eval();
  auto real = torch::randn({1, 4, 8});
  auto padded = torch::cat({real, torch::randn({1, 3, 8}) * 10}, 1);
  auto pad = torch::tensor({0, 0, 0, 0, 1, 1, 1}, torch::kBool).view({1, 7});
  auto a = enc(real).output;
  AttentionMasks masks;
  masks.key_padding = pad;
  auto b = enc->forward(padded, masks, true);
  CHECK(torch::allclose(a, b.output.index({Slice(), Slice(0, 4)}), 1e-5, 1e-5));
  const float padded_weight = b.weights[0].index({Slice(), Slice(), Slice(), Slice(4, 7)}).abs().max().item<float>();
  CHECK(padded_weight == 0.0f);
}

TEST_CASE("TransformerEncoder: inference in chunks of the batch equals the whole batch", "[nn]") {
  // 64 tokens per example: inference without weights runs 8 examples at a time,
  // so a batch of 21 is cut into 8 + 8 + 5, each chunk with its own padding.
  torch::manual_seed(4);
  TransformerEncoder enc(TransformerEncoderOptions(TransformerEncoderLayerOptions(16, 4).dropout(0.0), 2));
  enc->eval();
  auto x = torch::randn({21, 64, 16});
  auto pad = torch::zeros({21, 64}, torch::kBool);
  for (int64_t i = 0; i < 21; ++i) pad[i].narrow(0, 64 - 3 * i, 3 * i).fill_(true);
  AttentionMasks masks;
  masks.key_padding = pad;
  torch::NoGradGuard no_grad;
  const auto whole = enc->forward(x, masks, true);  // weights requested: one pass over the batch
  const auto chunked = enc->forward(x, masks);
  REQUIRE(chunked.output.sizes() == whole.output.sizes());
  CHECK(torch::allclose(chunked.output, whole.output, 1e-5, 1e-5));
  CHECK_FALSE(chunked.output.isnan().any().item<bool>());
  // A causal stack is cut the same way.
  AttentionMasks causal;
  causal.causal = true;
  CHECK(torch::allclose(enc->forward(x, causal).output, enc->forward(x, causal, true).output, 1e-5, 1e-5));
  // A per-example score bias [B, H, L, L] is cut with its chunk.
  AttentionMasks biased;
  biased.bias = torch::randn({21, 4, 64, 64});
  CHECK(torch::allclose(enc->forward(x, biased).output, enc->forward(x, biased, true).output, 1e-5, 1e-5));
  // The chunks run on both threads and give the same as on one.
  const int saved = at::get_num_threads();
  at::set_num_threads(2);
  const auto two = enc->forward(x, masks).output;
  at::set_num_threads(1);
  const auto one = enc->forward(x, masks).output;
  at::set_num_threads(saved);
  CHECK(torch::allclose(two, one, 1e-5, 1e-5));
}
