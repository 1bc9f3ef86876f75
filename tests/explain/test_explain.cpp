// Explanations: rollout and gradient rollout against hand-computed results,
// Grad-CAM with a known answer, occlusion on a toy model, map normalisation,
// .npy and PNG outputs, and the per-architecture methods.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <regex>

#include <opencv2/imgcodecs.hpp>

#include "focus/data/word_tokenizer.h"
#include "focus/eval/report.h"
#include "focus/explain/text_explainer.h"

#include "focus/explain/explainer.h"
#include "focus/explain/grad_cam.h"
#include "focus/explain/heatmap_image.h"
#include "focus/explain/occlusion.h"
#include "focus/explain/rollout.h"
#include "focus/models/factory.h"

using namespace focus::explain;
using focus::util::Json;

namespace {
/// [1, heads, 2, 2] from row-major values of each head.
torch::Tensor layer(std::vector<std::vector<float>> heads) {
  std::vector<torch::Tensor> hs;
  for (auto& h : heads) hs.push_back(torch::tensor(h).view({2, 2}));
  return torch::stack(hs).unsqueeze(0);
}
bool close(const torch::Tensor& a, std::vector<float> expected) {
  return torch::allclose(a.flatten(), torch::tensor(expected), 1e-5, 1e-5);
}
}  // namespace

TEST_CASE("attention rollout equals the hand-computed product of (A + I) / rowsum", "[explain]") {
  auto a1 = layer({{0.5f, 0.5f, 0.2f, 0.8f}});
  auto a2 = layer({{1.0f, 0.0f, 0.5f, 0.5f}});
  CHECK(close(attention_rollout({a1}), {0.75f, 0.25f, 0.1f, 0.9f}));
  // A2^ A1^ = [[1, 0], [0.25, 0.75]] [[0.75, 0.25], [0.1, 0.9]]
  CHECK(close(attention_rollout({a1, a2}), {0.75f, 0.25f, 0.2625f, 0.7375f}));

  auto two_heads = layer({{0.5f, 0.5f, 0.2f, 0.8f}, {0.9f, 0.1f, 0.6f, 0.4f}});
  CHECK(close(attention_rollout({two_heads}), {0.85f, 0.15f, 0.2f, 0.8f}));  // mean
  RolloutOptions max_fusion;
  max_fusion.head_fusion = HeadFusion::max;
  CHECK(close(attention_rollout({two_heads}, max_fusion), {1.9f / 2.4f, 0.5f / 2.4f, 0.25f, 0.75f}));
  RolloutOptions min_fusion;
  min_fusion.head_fusion = HeadFusion::min;
  CHECK(close(attention_rollout({two_heads}, min_fusion), {1.5f / 1.6f, 0.1f / 1.6f, 0.2f / 1.6f, 1.4f / 1.6f}));

  RolloutOptions discard;
  discard.discard_ratio = 0.5;  // the two smallest of 0.6 0.4 0.3 0.7 go: only the residual remains off the diagonal
  CHECK(close(attention_rollout({layer({{0.6f, 0.4f, 0.3f, 0.7f}})}, discard), {1.0f, 0.0f, 0.0f, 1.0f}));
  discard.discard_ratio = 0.25;  // the smallest is [0, 0], which is kept
  CHECK(close(attention_rollout({layer({{0.1f, 0.9f, 0.5f, 0.5f}})}, discard), {0.55f, 0.45f, 0.25f, 0.75f}));
  CHECK_THROWS(attention_rollout({}));
  discard.discard_ratio = 1.0;
  CHECK_THROWS(attention_rollout({a1}, discard));
}

TEST_CASE("gradient rollout: R = I + mean_h((grad * A)+) R, hand-computed", "[explain]") {
  auto a = layer({{0.5f, 0.5f, 0.2f, 0.8f}});
  auto g = layer({{1.0f, -1.0f, 2.0f, 0.0f}});
  CHECK(close(gradient_rollout({a}, {g}), {1.5f, 0.0f, 0.4f, 1.0f}));
  // Two layers: R2 = R1 + A R1 with the same layer: [[1.5,0],[0.4,1]] + [[0.5,0],[0.4,0]] [[1.5,0],[0.4,1]]
  CHECK(close(gradient_rollout({a, a}, {g, g}), {2.25f, 0.0f, 1.0f, 1.0f}));
  CHECK_THROWS(gradient_rollout({a}, {}));
}

TEST_CASE("Grad-CAM: ReLU of the gradient-weighted channel sum (known answer)", "[explain]") {
  auto act = torch::zeros({1, 2, 2, 2});
  act[0][0] = torch::tensor({1.0f, 2.0f, 0.0f, 0.0f}).view({2, 2});
  act[0][1] = torch::tensor({0.0f, 1.0f, 3.0f, 0.0f}).view({2, 2});
  auto grad = torch::zeros({1, 2, 2, 2});
  grad[0][0].fill_(1.0);   // alpha_0 = 1
  grad[0][1].fill_(-0.5);  // alpha_1 = -0.5
  auto cam = grad_cam(act, grad);
  CHECK(cam.sizes() == std::vector<int64_t>{1, 2, 2});
  CHECK(close(cam, {1.0f, 1.5f, 0.0f, 0.0f}));  // relu(A0 - 0.5 A1)
  CHECK_THROWS(grad_cam(act, grad[0]));
}

TEST_CASE("occlusion: the map peaks where the toy model looks", "[explain]") {
  // p(class 0) = sigmoid(5 * pixel (2, 2)); occluding that pixel with 0 drops it from ~0.99 to 0.5.
  ProbabilityFn toy = [](const torch::Tensor& x) {
    auto p = torch::sigmoid(5 * x.index({torch::indexing::Slice(), 0, 2, 2}));
    return torch::stack({p, 1 - p}, 1);
  };
  OcclusionOptions o;
  o.patch = 2;
  o.stride = 1;
  auto map = occlusion_map(toy, torch::ones({1, 6, 6}), 0, o);
  REQUIRE(map.sizes() == std::vector<int64_t>{6, 6});
  CHECK(map[2][2].item<float>() == Approx(1.0 / (1 + std::exp(-5.0)) - 0.5).epsilon(1e-4));
  CHECK(map[0][0].item<float>() == Approx(0.0).margin(1e-6));
  CHECK(map[5][5].item<float>() == Approx(0.0).margin(1e-6));
  CHECK(map.argmax().item<int64_t>() == 2 * 6 + 2);
  CHECK_THROWS(occlusion_map(toy, torch::ones({1, 6, 6}), 5, o));
}

TEST_CASE("maps: normalisation to [0, 1], resizing, .npy bytes, overlay PNG of the input's size", "[explain]") {
  auto m = torch::tensor({2.0f, 4.0f, 6.0f, 3.0f}).view({2, 2});
  CHECK(close(normalize_map(m), {0.0f, 0.5f, 1.0f, 0.25f}));
  CHECK(normalize_map(torch::full({3, 3}, 7.0)).abs().sum().item<float>() == 0.0f);
  CHECK(resize_map(m, 8, 6).sizes() == std::vector<int64_t>{8, 6});

  const std::string npy = npy_bytes(m);
  REQUIRE(npy.size() > 10);
  CHECK(npy.substr(0, 6) == "\x93NUMPY");
  const size_t header = static_cast<uint8_t>(npy[8]) | (static_cast<size_t>(static_cast<uint8_t>(npy[9])) << 8);
  CHECK((10 + header) % 64 == 0);
  CHECK(npy.substr(10, header).find("'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }") != std::string::npos);
  CHECK(npy.size() == 10 + header + 4 * sizeof(float));
  float third;
  std::memcpy(&third, npy.data() + 10 + header + 2 * sizeof(float), sizeof(float));
  CHECK(third == 6.0f);
  CHECK(npy_bytes(torch::zeros({5})).find("'shape': (5,)") != std::string::npos);

  auto image = torch::full({12, 20, 1}, 128, torch::kUInt8);
  auto map = torch::zeros({12, 20});
  map[3][4] = 1.0;
  const std::string png = overlay_png(image, map);
  cv::Mat decoded = cv::imdecode(std::vector<uchar>(png.begin(), png.end()), cv::IMREAD_COLOR);
  REQUIRE(decoded.rows == 12);
  REQUIRE(decoded.cols == 20);
  const auto hot = decoded.at<cv::Vec3b>(3, 4), cold = decoded.at<cv::Vec3b>(0, 0);
  CHECK(hot[2] > hot[0]);    // jet's top is red
  CHECK(cold[0] > cold[2]);  // and its bottom blue
  CHECK_THROWS(overlay_png(image, torch::zeros({5, 5})));
  const std::string grid = grid_png({{"input", image, {}}, {"map", image, map}}, "title", 64);
  cv::Mat g = cv::imdecode(std::vector<uchar>(grid.begin(), grid.end()), cv::IMREAD_COLOR);
  CHECK(g.cols == 6 + 2 * (64 + 6));
}

TEST_CASE("explain_image: methods per architecture, map sizes, errors that list what applies", "[explain]") {
  torch::manual_seed(4);
  auto cnn = focus::models::build_model(Json{{"arch", "attncnn"}}, focus::models::image_input(1, 10), "cnn");
  auto vit = focus::models::build_model(Json{{"arch", "vit"}, {"patch", 4}, {"dim", 16}, {"layers", 2}, {"heads", 2}},
                                        focus::models::image_input(1, 10), "vit");
  cnn->eval();
  vit->eval();
  focus::data::Batch b;
  b.inputs = torch::randn({1, 1, 28, 28});
  CHECK(image_methods("attncnn") == std::vector<std::string>{"attention", "gradcam", "occlusion"});
  CHECK(explain_image(*cnn, "attncnn", b, "attention", 3).map.sizes() == std::vector<int64_t>{7, 7});
  auto cam = explain_image(*cnn, "attncnn", b, "gradcam", 3);
  CHECK(cam.source == "stage3");
  CHECK(cam.map.sizes() == std::vector<int64_t>{7, 7});
  ExplainOptions first_stage;
  first_stage.layer = "stage1";
  CHECK(explain_image(*cnn, "attncnn", b, "gradcam", 3, first_stage).map.sizes() == std::vector<int64_t>{28, 28});
  first_stage.layer = "stage9";
  CHECK_THROWS_WITH(explain_image(*cnn, "attncnn", b, "gradcam", 3, first_stage), Catch::Contains("stage1, stage2, stage3"));
  CHECK_THROWS_WITH(explain_image(*cnn, "attncnn", b, "rollout", 3),
                    Catch::Contains("does not apply") && Catch::Contains("attention, gradcam, occlusion"));
  CHECK(explain_image(*cnn, "attncnn", b, "occlusion", 3).map.sizes() == std::vector<int64_t>{28, 28});
  // A non-local block's affinity [1, hw, hw] becomes the attention each position receives, on its stage's grid.
  auto nl = focus::models::build_model(
      Json{{"arch", "attncnn"}, {"stages", {{{"channels", 8}, {"stride", 2}, {"attention", "nonlocal"}}}}},
      focus::models::image_input(1, 10), "nl");
  nl->eval();
  ExplainOptions affinity;
  affinity.layer = "stage1.block0.nonlocal.affinity";
  auto received = explain_image(*nl, "attncnn", b, "attention", 3, affinity);
  CHECK(received.map.sizes() == std::vector<int64_t>{14, 14});
  CHECK(received.map.sum().item<double>() == Approx(1.0).epsilon(1e-4));  // mean of softmax rows sums to 1
  CHECK(received.source.find("mean over query positions") != std::string::npos);
  affinity.layer = "stage1.block0.cbam.spatial";
  CHECK_THROWS_WITH(explain_image(*nl, "attncnn", b, "attention", 3, affinity),
                    Catch::Contains("stage1.block0.nonlocal.affinity, head.attention_pool"));

  auto rollout = explain_image(*vit, "vit", b, "rollout", 1).map;
  CHECK(rollout.sizes() == std::vector<int64_t>{7, 7});
  CHECK(rollout.sum().item<float>() < 1.0f + 1e-4f);  // a row of a row-stochastic matrix, [CLS] itself excluded
  CHECK(rollout.sum().item<float>() > 0.05f);
  CHECK(rollout.min().item<float>() >= 0.0f);
  CHECK(explain_image(*vit, "vit", b, "grad_rollout", 1).map.sizes() == std::vector<int64_t>{7, 7});
  ExplainOptions head;
  head.head = 1;
  head.layer = "encoder.layer0";
  CHECK(explain_image(*vit, "vit", b, "attention", 1, head).source == "encoder.layer0 head 1");
  head.head = 5;
  CHECK_THROWS_WITH(explain_image(*vit, "vit", b, "attention", 1, head), Catch::Contains("2 heads"));
  CHECK_THROWS_WITH(explain_image(*vit, "vit", b, "gradcam", 1), Catch::Contains("rollout"));
  CHECK_THROWS_WITH(explain_image(*vit, "vit", b, "grad_rollout", 12), Catch::Contains("outside"));
}

TEST_CASE("text explanations: a weight per token, offsets over the original text, empty texts", "[explain][text]") {
  torch::manual_seed(12);
  std::vector<std::string> vocab = focus::data::special_token_names();
  for (const char* w : {"hello", "world", ".", ",", "again", "!", "<", "b", ">"}) vocab.push_back(w);
  focus::data::WordTokenizer tokenizer(vocab);
  focus::models::InputSpec input;
  input.vocab_size = static_cast<int64_t>(vocab.size());
  input.max_length = 32;
  input.num_classes = 2;
  auto model = focus::models::build_model(
      Json{{"arch", "text_transformer"}, {"dim", 16}, {"layers", 2}, {"heads", 2}, {"head", "attention_pool"}}, input, "t");
  model->eval();
  focus::data::TextEncodingOptions encoding;
  encoding.max_length = 32;
  const std::string text = "Hello, <b> world!  Hello again.";
  auto e = explain_text(*model, "text_transformer", tokenizer, text, encoding, {"attention", "rollout", "grad_rollout"}, -1,
                        torch::kCPU);
  REQUIRE(e.tokens.size() == 10);  // hello , < b > world ! hello again .
  CHECK(text.substr(static_cast<size_t>(e.tokens[2].begin), 1) == "<");
  CHECK(e.target == e.predicted);
  // attention: 2 layers x (mean + 2 heads), plus the attention-pool head; then rollout and gradient rollout.
  REQUIRE(e.maps.size() == 2 * 3 + 1 + 2);
  for (const auto& m : e.maps) CHECK(m.weights.size() == e.tokens.size());
  float rollout_sum = 0;
  for (float w : e.maps[7].weights) rollout_sum += w;
  CHECK(e.maps[7].name == "rollout");
  CHECK(rollout_sum < 1.0f + 1e-5f);
  CHECK(rollout_sum > 0.05f);

  const std::string html = text_page_html({e}, {"ham", "spam"}, "t");
  // Every highlighted span holds exactly its token's bytes, escaped.
  std::regex span("<span class=\"tok\" data-i=\"(\\d+)\">([^<]*)</span>");
  size_t spans = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), span); it != std::sregex_iterator(); ++it, ++spans) {
    const auto& tok = e.tokens[std::stoul((*it)[1])];
    CHECK((*it)[2] == focus::eval::html_escape(text.substr(static_cast<size_t>(tok.begin), static_cast<size_t>(tok.end - tok.begin))));
  }
  CHECK(spans == e.tokens.size());
  // Without the tags, the text block is the original text, escaped.
  const auto start = html.find("<div class=\"text\" id=\"text0\">") + std::string("<div class=\"text\" id=\"text0\">").size();
  const auto block = html.substr(start, html.find("</div>", start) - start);
  CHECK(std::regex_replace(block, std::regex("<span[^>]*>|</span>"), "") == focus::eval::html_escape(text));

  const auto json = to_json(e, {"ham", "spam"});
  CHECK(json["tokens"][5]["token"] == "world");
  CHECK(json["tokens"][5]["begin"] == 11);
  CHECK(json["maps"].size() == 9);
  const std::string ansi = ansi_text(e, e.maps[7]);
  CHECK(ansi.find("\x1b[48;5;") != std::string::npos);
  CHECK(std::regex_replace(ansi, std::regex("\x1b\\[[0-9;]*m"), "") == text);
  // Signed maps (occlusion): a token for the class in red, against it in blue, zero uncoloured.
  TextExplanation signed_map;
  signed_map.text = "for against none";
  signed_map.tokens = {{0, 0, 3}, {0, 4, 11}, {0, 12, 16}};
  signed_map.maps = {{"occlusion", "leave one token out", {0.5f, -0.5f, 0.0f}}};
  CHECK(ansi_text(signed_map, signed_map.maps[0]) ==
        "\x1b[48;5;196m\x1b[30mfor\x1b[0m \x1b[48;5;33m\x1b[30magainst\x1b[0m \x1b[48;5;231m\x1b[30mnone\x1b[0m");
  const auto signed_page = text_page_html({signed_map}, {"ham", "spam"}, "t");
  CHECK(signed_page.find("Math.abs") != std::string::npos);
  CHECK(signed_page.find("blue, for signed maps (occlusion), against it") != std::string::npos);

  auto empty = explain_text(*model, "text_transformer", tokenizer, "", encoding, {"rollout"}, -1, torch::kCPU);
  CHECK(empty.tokens.empty());
  CHECK(empty.maps.empty());
  CHECK(text_page_html({empty}, {"ham", "spam"}, "t").find("no tokens") != std::string::npos);
  CHECK_THROWS_WITH(explain_text(*model, "text_transformer", tokenizer, text, encoding, {"gradcam"}, -1, torch::kCPU),
                    Catch::Contains("attention, rollout, grad_rollout"));
  CHECK(text_methods("bag_of_embeddings") == std::vector<std::string>{"occlusion"});

  // Occlusion, recomputed independently: the drop in the target's probability
  // when one token is masked out as padding ([CLS] is slot 0, so token k is slot k + 1).
  const auto occluded = explain_text(*model, "text_transformer", tokenizer, text, encoding, {"occlusion"}, 1, torch::kCPU);
  REQUIRE(occluded.maps.size() == 1);
  REQUIRE(occluded.maps[0].weights.size() == e.tokens.size());
  torch::NoGradGuard no_grad;
  const auto batch = text_batch(focus::data::encode_text(tokenizer, text, encoding), encoding.layout);
  const float whole = torch::softmax(model->forward(batch), 1)[0][1].item<float>();
  for (size_t k : {size_t{0}, size_t{5}, size_t{9}}) {
    auto b = batch;
    b.mask = batch.mask.clone();
    b.mask[0][static_cast<int64_t>(k) + 1] = false;
    const float without = torch::softmax(model->forward(b), 1)[0][1].item<float>();
    CHECK(occluded.maps[0].weights[k] == Approx(whole - without).margin(1e-6));
  }
  float spread = 0;
  for (float w : occluded.maps[0].weights) spread = std::max(spread, std::abs(w));
  CHECK(spread > 0);  // masking a token changes the prediction somewhere
}
