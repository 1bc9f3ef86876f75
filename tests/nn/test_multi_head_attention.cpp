// MultiHeadAttention against torch::nn::MultiheadAttention with shared weights.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "focus/nn/masked_softmax.h"
#include "focus/nn/multi_head_attention.h"

using namespace focus::nn;
using torch::indexing::Slice;

namespace {
// Copies our q/k/v/out projections into PyTorch's packed layout.
torch::nn::MultiheadAttention reference_for(MultiHeadAttention& ours) {
  const int64_t e = ours->options.embed_dim();
  torch::nn::MultiheadAttention ref(torch::nn::MultiheadAttentionOptions(e, ours->options.num_heads()));
  torch::NoGradGuard g;
  ref->in_proj_weight.copy_(torch::cat({ours->q_proj->weight, ours->k_proj->weight, ours->v_proj->weight}));
  ref->in_proj_bias.copy_(torch::cat({ours->q_proj->bias, ours->k_proj->bias, ours->v_proj->bias}));
  ref->out_proj->weight.copy_(ours->out_proj->weight);
  ref->out_proj->bias.copy_(ours->out_proj->bias);
  return ref;
}
}  // namespace

TEST_CASE("MultiHeadAttention equals torch::nn::MultiheadAttention", "[nn]") {
  torch::manual_seed(0);
  MultiHeadAttention mha(MultiHeadAttentionOptions(8, 2));
  {
    torch::NoGradGuard g;  // non-zero biases so they are compared too
    for (auto* l : {&mha->q_proj, &mha->k_proj, &mha->v_proj, &mha->out_proj}) (*l)->bias.uniform_(-0.5, 0.5);
  }
  auto ref = reference_for(mha);
  auto q = torch::randn({3, 4, 8}), k = torch::randn({3, 6, 8}), v = torch::randn({3, 6, 8});
  auto padding = torch::zeros({3, 6}, torch::kBool);
  padding.index_put_({1, Slice(4, 6)}, true);

  AttentionMasks masks;
  masks.key_padding = padding;
  auto ours = mha(q, k, v, masks);
  auto [ref_out, ref_w] = ref->forward(q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1), padding, true, {},
                              /*average_attn_weights=*/false);
  CHECK(ours.weights.sizes() == torch::IntArrayRef({3, 2, 4, 6}));
  CHECK(torch::allclose(ours.output, ref_out.transpose(0, 1), 1e-5, 1e-5));
  CHECK(torch::allclose(ours.weights, ref_w, 1e-5, 1e-6));
  CHECK(torch::allclose(ours.weights.sum(-1), torch::ones({3, 2, 4}), 1e-5, 1e-6));
  const float padded_weight = ours.weights.index({1, Slice(), Slice(), Slice(4, 6)}).abs().max().item<float>();
  CHECK(padded_weight == 0.0f);
}

TEST_CASE("MultiHeadAttention causal mask equals an explicit mask and PyTorch's", "[nn]") {
  torch::manual_seed(2);
  MultiHeadAttention mha(MultiHeadAttentionOptions(6, 3));
  auto ref = reference_for(mha);
  auto x = torch::randn({2, 5, 6});
  AttentionMasks causal;
  causal.causal = true;
  auto a = mha(x, x, x, causal);
  auto future = torch::ones({5, 5}, torch::kBool).triu(1);
  AttentionMasks explicit_mask;
  explicit_mask.attn = future;
  auto b = mha(x, x, x, explicit_mask);
  // LibTorch 1.13's functional MHA adds attn_mask to the scores: give it -inf where masked.
  auto additive = torch::zeros({5, 5}).masked_fill(future, -std::numeric_limits<float>::infinity());
  auto [r, rw] = ref->forward(x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1), {}, true, additive, false);
  CHECK(torch::allclose(a.output, b.output, 1e-6, 1e-6));
  CHECK(torch::allclose(a.output, r.transpose(0, 1), 1e-5, 1e-5));
  CHECK(a.weights.triu(1).abs().max().item<float>() == 0.0f);
  // The first position sees only itself.
  const auto first = a.weights.index({Slice(), Slice(), 0, 0});
  CHECK(torch::allclose(first, torch::ones({2, 3})));
}

TEST_CASE("MultiHeadAttention: fully masked rows give zeros, dropout only in training", "[nn]") {
  torch::manual_seed(3);
  MultiHeadAttention mha(MultiHeadAttentionOptions(4, 2).dropout(0.5));
  auto x = torch::randn({1, 3, 4});
  auto all = torch::ones({1, 3}, torch::kBool);
  mha->eval();
  AttentionMasks everything;
  everything.key_padding = all;
  auto out = mha(x, x, x, everything);
  CHECK_FALSE(out.output.isnan().any().item<bool>());
  CHECK(out.weights.abs().sum().item<float>() == 0.0f);
  auto e1 = mha(x, x, x), e2 = mha(x, x, x);
  CHECK(torch::equal(e1.output, e2.output));
  mha->train();
  auto t1 = mha(x, x, x), t2 = mha(x, x, x);
  CHECK_FALSE(torch::allclose(t1.output, t2.output));
  CHECK_THROWS_AS(MultiHeadAttention(MultiHeadAttentionOptions(5, 2)), c10::Error);
}

TEST_CASE("MultiHeadAttention supports keys of another width (cross-attention)", "[nn]") {
  MultiHeadAttention mha(MultiHeadAttentionOptions(8, 4).kdim(5).vdim(3));
  auto out = mha(torch::randn({2, 7, 8}), torch::randn({2, 9, 5}), torch::randn({2, 9, 3}));
  CHECK(out.output.sizes() == torch::IntArrayRef({2, 7, 8}));
  CHECK(out.weights.sizes() == torch::IntArrayRef({2, 4, 7, 9}));
}

TEST_CASE("MultiHeadAttention::forward_grouped equals forward with each query's key set", "[nn]") {
  torch::manual_seed(11);
  focus::nn::MultiHeadAttention mha(focus::nn::MultiHeadAttentionOptions(16, 4).kdim(8).vdim(8));
  mha->eval();
  auto query = torch::randn({5, 3, 16});
  auto keys = torch::randn({2, 7, 8});  // two key sets
  auto group = torch::tensor({0, 1, 1, 0, 1}, torch::kLong);
  focus::nn::AttentionMasks masks;
  masks.key_padding = torch::zeros({5, 7}, torch::kBool);
  masks.key_padding.index_put_({1, torch::indexing::Slice(5, 7)}, true);
  auto grouped = mha->forward_grouped(query, keys, keys, group, masks);
  auto gathered = keys.index_select(0, group);
  auto plain = mha->forward(query, gathered, gathered, masks);
  CHECK(grouped.output.sizes() == std::vector<int64_t>{5, 3, 16});
  CHECK(grouped.weights.sizes() == std::vector<int64_t>{5, 4, 3, 7});
  CHECK(torch::allclose(grouped.output, plain.output, 1e-5, 1e-6));
  CHECK(torch::allclose(grouped.weights, plain.weights, 1e-5, 1e-6));
  CHECK(grouped.weights[1].index({torch::indexing::Ellipsis, torch::indexing::Slice(5, 7)}).abs().max().item<float>() == 0.0f);
  CHECK_THROWS(mha->forward_grouped(query, keys, keys, group.to(torch::kFloat)));
}

TEST_CASE("MultiHeadAttention::forward_grouped with many rows per set: values and gradients", "[nn]") {
  // Nine rows over three key sets (4, 3 and 2 rows, interleaved): the rows of each
  // set are attended as one sequence; the result must be the per-row one.
  torch::manual_seed(12);
  focus::nn::MultiHeadAttention mha(focus::nn::MultiHeadAttentionOptions(16, 4));
  const auto group = torch::tensor({2, 0, 1, 0, 0, 1, 2, 1, 0}, torch::kLong);
  auto query = torch::randn({9, 3, 16}, torch::requires_grad());
  auto keys = torch::randn({3, 5, 16}, torch::requires_grad());
  auto bias = torch::randn({9, 4, 3, 5}, torch::requires_grad());
  focus::nn::AttentionMasks masks;
  masks.bias = bias;
  const auto upstream = torch::randn({9, 3, 16});
  const auto weight_upstream = torch::randn({9, 4, 3, 5});
  auto run = [&](bool grouped) {
    for (auto* t : {&query, &keys, &bias}) t->mutable_grad().reset();
    mha->zero_grad();
    auto out = grouped ? mha->forward_grouped(query, keys, keys, group, masks)
                       : mha->forward(query, keys.index_select(0, group), keys.index_select(0, group), masks);
    ((out.output * upstream).sum() + (out.weights * weight_upstream).sum()).backward();
    return std::vector<torch::Tensor>{out.output.detach(), out.weights.detach(), query.grad().clone(),
                                      keys.grad().clone(), bias.grad().clone(), mha->q_proj->weight.grad().clone(),
                                      mha->k_proj->weight.grad().clone()};
  };
  const auto grouped = run(true), plain = run(false);
  CHECK(grouped[0].sizes() == torch::IntArrayRef({9, 3, 16}));
  CHECK(grouped[1].sizes() == torch::IntArrayRef({9, 4, 3, 5}));
  const char* names[] = {"output", "weights", "d query", "d keys", "d bias", "d q_proj", "d k_proj"};
  for (size_t i = 0; i < grouped.size(); ++i) {
    INFO(names[i]);
    CHECK(torch::allclose(grouped[i], plain[i], 1e-4, 1e-5));
  }
  // A bias broadcast over the rows and heads takes the same path.
  masks.bias = torch::randn({1, 1, 3, 5});
  torch::NoGradGuard no_grad;
  const auto broadcast = mha->forward_grouped(query, keys, keys, group, masks);
  const auto reference = mha->forward(query, keys.index_select(0, group), keys.index_select(0, group), masks);
  CHECK(torch::allclose(broadcast.output, reference.output, 1e-4, 1e-5));
  CHECK_THROWS(mha->forward_grouped(query, keys, keys, torch::tensor({0, 1, 3, 0, 0, 1, 2, 1, 0}, torch::kLong)));
}

TEST_CASE("masked_softmax: reference values, broadcast masks, empty rows, in place", "[nn]") {
  torch::manual_seed(6);
  auto scores = torch::randn({3, 2, 4, 5});
  auto keep = torch::rand({3, 1, 1, 5}) > 0.3;
  keep[0].fill_(true);   // nothing masked in example 0
  keep[1].fill_(false);  // everything masked in example 1
  keep[2][0][0][1] = true;
  const auto w = masked_softmax(scores, keep);
  // Reference: exp over the kept entries only, normalised; all-zero rows where nothing is kept.
  const auto k = keep.to(torch::kFloat).expand_as(scores);
  const auto e = torch::exp(scores - scores.amax(-1, true)) * k;
  const auto sum = e.sum(-1, true);
  const auto reference = torch::where(sum > 0, e / sum.clamp_min(1e-30), torch::zeros_like(e));
  CHECK(torch::allclose(w, reference, 1e-6, 1e-7));
  CHECK(w[1].abs().sum().item<float>() == 0.0f);
  CHECK_FALSE(w.isnan().any().item<bool>());
  // The in-place variant gives the same weights and consumes its scores.
  auto scratch = scores.clone();
  CHECK(torch::equal(masked_softmax_(scratch, keep), w));
  CHECK_FALSE(torch::equal(scratch, scores));
  // No mask, or a mask that keeps everything: a plain softmax.
  CHECK(torch::equal(masked_softmax(scores, {}), torch::softmax(scores, -1)));
  CHECK(torch::equal(masked_softmax(scores, torch::ones({5}, torch::kBool)), torch::softmax(scores, -1)));
}
