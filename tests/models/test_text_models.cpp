// Text and vision Transformer models, HAN, bag of embeddings, masked LM:
// shapes, padding invariance, causal masking, attention sums.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "focus/data/mlm_masking.h"
#include "focus/models/factory.h"
#include "focus/models/text_encoder.h"
#include "focus/util/json_reader.h"

using focus::util::Json;

namespace {

focus::models::InputSpec text_input(int64_t vocab, int64_t max_length, int64_t classes) {
  focus::models::InputSpec s;
  s.vocab_size = vocab;
  s.max_length = max_length;
  s.num_classes = classes;
  return s;
}

/// Ids [B, L] with rows of the given lengths ([CLS] = 2 first), padded with 0.
focus::data::Batch token_batch(const std::vector<std::vector<int64_t>>& rows, int64_t length) {
  focus::data::Batch b;
  b.inputs = torch::zeros({static_cast<int64_t>(rows.size()), length}, torch::kLong);
  b.mask = torch::zeros({static_cast<int64_t>(rows.size()), length}, torch::kBool);
  for (size_t r = 0; r < rows.size(); ++r)
    for (size_t j = 0; j < rows[r].size(); ++j) {
      b.inputs[static_cast<int64_t>(r)][static_cast<int64_t>(j)] = rows[r][j];
      b.mask[static_cast<int64_t>(r)][static_cast<int64_t>(j)] = true;
    }
  return b;
}

}  // namespace

TEST_CASE("TextTransformer: padding to any length gives the same logits", "[models][text]") {
  torch::manual_seed(3);
  for (const char* head : {"cls", "attention_pool"}) {
    for (const char* positions : {"learned", "sinusoidal"}) {
      Json spec = {{"arch", "text_transformer"}, {"dim", 16}, {"layers", 2}, {"heads", 4},
                   {"head", head},               {"positions", positions}};
      auto model = focus::models::build_model(spec, text_input(50, 32, 3), "model");
      model->eval();
      const std::vector<int64_t> text = {2, 7, 8, 9, 10, 11};
      auto alone = model->forward(token_batch({text}, 6));
      auto padded = model->forward(token_batch({text, {2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}}, 20));
      INFO(head << " " << positions);
      CHECK(alone.sizes() == torch::IntArrayRef({1, 3}));
      CHECK(torch::allclose(alone[0], padded[0], 1e-5, 1e-6));
    }
  }
}

TEST_CASE("TextTransformer returns per-layer attention that ignores padding", "[models][text]") {
  torch::manual_seed(4);
  Json spec = {{"arch", "text_transformer"}, {"dim", 16}, {"layers", 3}, {"heads", 2}, {"head", "attention_pool"}};
  auto model = focus::models::build_model(spec, text_input(30, 16, 2), "model");
  model->eval();
  auto batch = token_batch({{2, 5, 6}, {2, 5, 6, 7, 8}}, 8);
  auto out = model->forward_with_attention(batch);
  REQUIRE(out.attention.size() == 4);
  CHECK(out.attention[0].name == "encoder.layer0");
  CHECK(out.attention[0].weights.sizes() == torch::IntArrayRef({2, 2, 8, 8}));
  CHECK(out.attention[3].name == "head.pool");
  auto layer = out.attention[1].weights;
  auto to_padding = layer.index({0, torch::indexing::Slice(), torch::indexing::Slice(0, 3), torch::indexing::Slice(3)});
  const float leaked = to_padding.abs().sum().item<float>();
  CHECK(leaked == 0.0f);
  CHECK(torch::allclose(layer.sum(-1).index({1, torch::indexing::Slice(), torch::indexing::Slice(0, 5)}),
                        torch::ones({2, 5}), 1e-5, 1e-6));
  auto pool = out.attention[3].weights;
  CHECK(torch::allclose(pool.sum(1), torch::ones({2}), 1e-5, 1e-6));
  const float pool_on_padding = pool[0].slice(0, 3).sum().item<float>();
  CHECK(pool_on_padding == 0.0f);
}

TEST_CASE("Encoder with a causal mask: a token never sees later tokens", "[models][text]") {
  torch::manual_seed(5);
  focus::nn::TransformerEncoderLayerOptions layer(16, 4);
  layer.dropout(0.0);
  focus::nn::TransformerEncoder encoder(focus::nn::TransformerEncoderOptions(layer, 2));
  encoder->eval();
  auto x = torch::randn({1, 6, 16});
  auto y = x.clone();
  y.index_put_({0, torch::indexing::Slice(4)}, torch::randn({2, 16}));  // change the last two tokens
  focus::nn::AttentionMasks causal;
  causal.causal = true;
  auto a = encoder->forward(x, causal, true);
  auto b = encoder->forward(y, causal, true);
  CHECK(torch::allclose(a.output.slice(1, 0, 4), b.output.slice(1, 0, 4), 1e-5, 1e-6));
  CHECK_FALSE(torch::allclose(a.output.slice(1, 4), b.output.slice(1, 4), 1e-3, 1e-3));
  auto upper = torch::triu(a.weights[0][0][0], 1);  // weights of later keys
  const float later = upper.abs().sum().item<float>();
  CHECK(later == 0.0f);
}

TEST_CASE("HierarchicalAttentionNet: shapes, attention sums and padding invariance", "[models][text]") {
  torch::manual_seed(6);
  Json spec = {{"arch", "han"}, {"embedding_dim", 12}, {"hidden", 8}, {"attention_dim", 10}};
  auto model = focus::models::build_model(spec, text_input(40, 16, 3), "model");
  model->eval();
  // Document 0: sentences of 3 and 2 words; document 1: one sentence of 4 words.
  auto make = [](int64_t S, int64_t W) {
    focus::data::Batch b;
    b.inputs = torch::zeros({2, S, W}, torch::kLong);
    b.mask = torch::zeros({2, S, W}, torch::kBool);
    auto put = [&](int64_t d, int64_t s, std::vector<int64_t> ids) {
      for (size_t w = 0; w < ids.size(); ++w) {
        b.inputs[d][s][static_cast<int64_t>(w)] = ids[w];
        b.mask[d][s][static_cast<int64_t>(w)] = true;
      }
    };
    put(0, 0, {5, 6, 7});
    put(0, 1, {8, 9});
    put(1, 0, {10, 11, 12, 13});
    return b;
  };
  auto small = make(2, 4), large = make(5, 9);
  auto out = model->forward_with_attention(small);
  CHECK(out.logits.sizes() == torch::IntArrayRef({2, 3}));
  REQUIRE(out.attention.size() == 2);
  auto words = out.attention[0].weights, sentences = out.attention[1].weights;
  CHECK(words.sizes() == torch::IntArrayRef({2, 2, 4}));
  CHECK(sentences.sizes() == torch::IntArrayRef({2, 2}));
  CHECK(torch::allclose(words.sum(-1), torch::tensor({{1.0f, 1.0f}, {1.0f, 0.0f}}), 1e-5, 1e-6));
  CHECK(torch::allclose(sentences.sum(-1), torch::ones({2}), 1e-5, 1e-6));
  const float on_pad_sentence = sentences[1][1].item<float>();
  CHECK(on_pad_sentence == 0.0f);
  CHECK(torch::allclose(model->forward(large), out.logits, 1e-5, 1e-6));
}

TEST_CASE("BagOfEmbeddings ignores padding; with bigrams too", "[models][text]") {
  torch::manual_seed(7);
  for (int buckets : {0, 64}) {
    Json spec = {{"arch", "bag_of_embeddings"}, {"dim", 8}, {"bigram_buckets", buckets}};
    auto model = focus::models::build_model(spec, text_input(20, 16, 2), "model");
    model->eval();
    auto a = model->forward(token_batch({{2, 5, 6, 7}}, 4));
    auto b = model->forward(token_batch({{2, 5, 6, 7}, {2, 8, 9, 10, 11, 12}}, 9));
    CHECK(torch::allclose(a[0], b[0], 1e-5, 1e-6));
    CHECK(model->forward_with_attention(token_batch({{2, 5}}, 2)).attention.empty());
  }
}

TEST_CASE("VisionTransformer: logits and [CLS]-first attention per layer", "[models]") {
  torch::manual_seed(8);
  Json spec = {{"arch", "vit"}, {"patch", 7}, {"dim", 16}, {"layers", 2}, {"heads", 2}};
  auto model = focus::models::build_model(spec, focus::models::image_input(1, 10), "model");
  model->eval();
  focus::data::Batch batch;
  batch.inputs = torch::randn({3, 1, 28, 28});
  auto out = model->forward_with_attention(batch);
  CHECK(out.logits.sizes() == torch::IntArrayRef({3, 10}));
  REQUIRE(out.attention.size() == 2);
  CHECK(out.attention[1].weights.sizes() == torch::IntArrayRef({3, 2, 17, 17}));
  CHECK_THROWS_WITH(focus::models::build_model({{"arch", "vit"}, {"patch", 5}}, focus::models::image_input(1, 10), "m"),
                    Catch::Contains("does not divide"));
}

TEST_CASE("MaskedLanguageModel predicts the vocabulary at marked positions only", "[models][text]") {
  torch::manual_seed(9);
  Json spec = {{"arch", "masked_lm"}, {"dim", 16}, {"layers", 1}, {"heads", 2}};
  auto model = focus::models::build_model(spec, text_input(30, 16, 30), "model");
  auto batch = token_batch({{2, 5, 4, 7}, {2, 4, 9}}, 5);
  batch.extra[focus::data::kMlmPositions] = batch.inputs.eq(4);
  batch.targets = torch::tensor({6, 8}, torch::kLong);
  auto logits = model->forward(batch);
  CHECK(logits.sizes() == torch::IntArrayRef({2, 30}));
  auto loss = torch::nn::functional::cross_entropy(logits, batch.targets);
  loss.backward();
  const auto parameters = model->named_parameters();  // find() points into this dict (ASan found a temporary here)
  auto* encoder = parameters.find("encoder.embedding.weight");
  REQUIRE(encoder != nullptr);
  CHECK(encoder->grad().defined());
  focus::data::Batch unmarked = token_batch({{2, 5}}, 2);
  CHECK_THROWS(model->forward(unmarked));
}

TEST_CASE("Text architectures need a vocabulary and a task that fits", "[models][text]") {
  CHECK_THROWS_WITH(focus::models::build_model({{"arch", "text_transformer"}}, focus::models::image_input(1, 2), "m"),
                    Catch::Contains("no vocabulary"));
  CHECK_THROWS_WITH(focus::models::check_model_section({{"arch", "text_transformer"}, {"dim", 10}, {"heads", 4}}, "m"),
                    Catch::Contains("divisible"));
  CHECK_THROWS_WITH(focus::models::check_model_section({{"arch", "han"}, {"hiden", 4}}, "m"), Catch::Contains("hiden"));
}
