// focus-serve's parts without sockets: merging requests for a batch, the
// dynamic batcher (batches form under load, results go to the right caller,
// a full queue refuses), the inference-protocol JSON, and Prometheus text.
#include <catch2/catch.hpp>
#include <torch/script.h>
#include <torch/torch.h>

#include <atomic>
#include <thread>

#include "focus/deploy/dynamic_batcher.h"
#include "focus/deploy/inference_protocol.h"
#include "focus/deploy/serve_metrics.h"
#include "focus/deploy/to_torchscript.h"
#include "focus/models/factory.h"
#include "temp_dir.h"

namespace deploy = focus::deploy;
namespace models = focus::models;
using focus::util::Json;

TEST_CASE("merge_inputs: token requests are padded and concatenated", "[deploy][serve]") {
  std::vector<std::vector<torch::jit::IValue>> requests = {
      {torch::tensor({{2, 7, 8}}, torch::kLong), torch::tensor({{true, true, true}})},
      {torch::tensor({{2, 9}, {2, 5}}, torch::kLong), torch::tensor({{true, true}, {true, false}})}};
  std::vector<int64_t> rows;
  auto merged = deploy::merge_inputs(requests, models::InputKind::tokens, rows);
  CHECK(rows == std::vector<int64_t>{1, 2});
  const auto ids = merged[0].toTensor();
  const auto mask = merged[1].toTensor();
  REQUIRE(ids.sizes() == std::vector<int64_t>{3, 3});
  CHECK(ids[1][2].item<int64_t>() == 0);  // [PAD]
  CHECK(mask.scalar_type() == torch::kBool);
  CHECK_FALSE(mask[2][1].item<bool>());
  CHECK(mask[0][2].item<bool>());
  CHECK(ids[2][1].item<int64_t>() == 5);
}

TEST_CASE("merge_inputs: image + text requests get their image_index shifted", "[deploy][serve]") {
  std::vector<std::vector<torch::jit::IValue>> requests = {
      // two questions about one image
      {torch::zeros({1, 3, 4, 4}), torch::ones({2, 2}, torch::kLong), torch::ones({2, 2}, torch::kBool),
       torch::tensor({0, 0}, torch::kLong)},
      // one image per question, no index given
      {torch::ones({2, 3, 4, 4}), torch::ones({2, 3}, torch::kLong), torch::ones({2, 3}, torch::kBool)}};
  std::vector<int64_t> rows;
  auto merged = deploy::merge_inputs(requests, models::InputKind::image_text, rows);
  CHECK(rows == std::vector<int64_t>{2, 2});
  REQUIRE(merged.size() == 4);
  CHECK(merged[0].toTensor().size(0) == 3);
  CHECK(merged[1].toTensor().sizes() == std::vector<int64_t>{4, 3});
  const auto index = merged[3].toTensor();
  CHECK(index.equal(torch::tensor({0, 0, 1, 2}, torch::kLong)));
}

TEST_CASE("DynamicBatcher: concurrent requests share forward calls and get their own rows", "[deploy][serve]") {
  std::atomic<int> calls{0};
  std::vector<int64_t> sizes;
  std::mutex sizes_mutex;
  deploy::BatchingOptions options;
  options.max_batch_size = 8;
  options.max_delay_us = 20000;
  // "logits" = the input row's first value, so each caller can check it got its own rows.
  deploy::DynamicBatcher batcher(
      options, models::InputKind::images,
      [&](const std::vector<torch::jit::IValue>& in) {
        ++calls;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        return in[0].toTensor().flatten(1).narrow(1, 0, 1).repeat({1, 2});
      },
      [&](int64_t n) {
        std::lock_guard<std::mutex> lock(sizes_mutex);
        sizes.push_back(n);
      });
  std::vector<std::thread> clients;
  std::atomic<int> wrong{0};
  for (int c = 0; c < 16; ++c)
    clients.emplace_back([&, c] {
      auto logits = batcher.submit({torch::full({1, 1, 2, 2}, static_cast<float>(c))}).get();
      if (logits.size(0) != 1 || logits[0][0].item<float>() != static_cast<float>(c)) ++wrong;
    });
  for (auto& t : clients) t.join();
  CHECK(wrong == 0);
  CHECK(calls < 16);  // some requests were batched together
  int64_t total = 0, largest = 0;
  for (auto n : sizes) {
    total += n;
    largest = std::max(largest, n);
  }
  CHECK(total == 16);
  CHECK(largest > 1);
  CHECK(largest <= 8);
}

TEST_CASE("DynamicBatcher: a full queue refuses, errors reach their caller", "[deploy][serve]") {
  deploy::BatchingOptions options;
  options.max_batch_size = 1;
  options.max_queue = 2;
  std::promise<void> release;
  auto gate = release.get_future().share();
  deploy::DynamicBatcher batcher(options, models::InputKind::images, [gate](const std::vector<torch::jit::IValue>& in) {
    gate.wait();
    if (in[0].toTensor().sum().item<float>() < 0) throw focus::Error("negative input");
    return torch::zeros({in[0].toTensor().size(0), 3});
  });
  auto first = batcher.submit({torch::ones({1, 1, 2, 2})});  // taken by the worker, blocked on the gate
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto second = batcher.submit({-torch::ones({1, 1, 2, 2})});
  auto third = batcher.submit({torch::ones({1, 1, 2, 2})});
  CHECK(batcher.queue_depth() == 2);
  CHECK_THROWS_AS(batcher.submit({torch::ones({1, 1, 2, 2})}), deploy::QueueFull);
  release.set_value();
  CHECK(first.get().sizes() == std::vector<int64_t>{1, 3});
  CHECK_THROWS_WITH(second.get(), Catch::Contains("negative input"));
  CHECK(third.get().sizes() == std::vector<int64_t>{1, 3});
  batcher.stop();
  CHECK_THROWS(batcher.submit({torch::ones({1, 1, 2, 2})}));
}

TEST_CASE("Inference protocol: requests become the model's tensors, bad ones are 400", "[deploy][serve]") {
  focus::testing::TempDir dir;
  auto net = models::build_model(
      Json::parse(R"({"arch": "attncnn", "stem_channels": 4, "stages": [{"channels": 8, "stride": 2}]})"),
      models::image_input(1, 3, 4, 4), "model");
  net->eval();
  deploy::to_torchscript(*net).save((dir / "m.pt").string());
  deploy::ForeignModelOptions foreign;
  foreign.channels = 1;
  foreign.height = foreign.width = 4;
  foreign.mean = {0.5};
  foreign.std = {0.25};
  foreign.class_names = {"a", "b", "c"};
  const auto model = deploy::ScriptModel::load((dir / "m.pt").string(), torch::kCPU, foreign);

  const auto metadata = deploy::model_metadata("m", model);
  CHECK(metadata["inputs"][0]["shape"] == Json::parse("[-1, 1, 4, 4]"));
  CHECK(metadata["outputs"][1]["name"] == "probabilities");

  std::vector<float> pixels(32);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = 0.1f * static_cast<float>(i);
  Json body = {{"id", "r1"},
               {"inputs", {{{"name", "images"}, {"shape", {2, 1, 4, 4}}, {"datatype", "FP32"}, {"data", pixels}}}}};
  const auto request = deploy::parse_infer_request(body.dump());
  CHECK(request.id == "r1");
  const auto inputs = deploy::request_inputs(request, model);
  const auto images = inputs[0].toTensor();
  REQUIRE(images.sizes() == std::vector<int64_t>{2, 1, 4, 4});
  CHECK(images[1][0][3][3].item<float>() == Approx(3.1f));
  const auto logits = model.forward(inputs);
  const auto response = deploy::infer_response("m", request, logits);
  CHECK(response["id"] == "r1");
  CHECK(response["outputs"][0]["shape"] == Json::parse("[2, 3]"));
  double sum = 0;
  for (const auto& v : response["outputs"][1]["data"]) sum += v.get<double>();
  CHECK(sum == Approx(2.0).epsilon(1e-5));  // two rows of probabilities

  auto status_of = [&](const std::string& text) {
    try {
      deploy::request_inputs(deploy::parse_infer_request(text), model);
    } catch (const deploy::RequestError& e) {
      return e.status();
    }
    return 200;
  };
  CHECK(status_of("{not json") == 400);
  CHECK(status_of(R"({"inputs": []})") == 400);
  CHECK(status_of(R"({"inputs": [{"name": "images", "shape": [1, 1, 4, 4], "datatype": "INT64", "data": [1]}]})") == 400);
  CHECK(status_of(R"({"inputs": [{"name": "images", "shape": [1, 1, 5, 4], "datatype": "FP32", "data": []}]})") == 400);
  CHECK(status_of(R"({"inputs": [{"name": "images", "shape": [1, 1, 4, 4], "datatype": "FP32", "data": [1, 2]}]})") == 400);
  CHECK(status_of(R"({"inputs": [{"name": "images", "shape": [1, 1, 2, 2], "datatype": "FP32", "data": [[1, 2], ["x", 4]]}]})") == 400);
  CHECK(status_of(std::string(200, '[') + std::string(200, ']')) == 400);  // nesting limit, not a stack overflow
  Json wrong_output = body;
  wrong_output["outputs"] = {{{"name", "features"}}};
  CHECK_THROWS_AS(deploy::infer_response("m", deploy::parse_infer_request(wrong_output.dump()), logits), deploy::RequestError);
}

TEST_CASE("ServeMetrics: Prometheus text with counters, histograms and the queue gauge", "[deploy][serve]") {
  deploy::ServeMetrics metrics({"spam"});
  metrics.request("spam", 200, 0.003);
  metrics.request("spam", 200, 0.2);
  metrics.request("spam", 400, 0.001);
  metrics.batch("spam", 5);
  const auto text = metrics.render([](const std::string&) { return int64_t{7}; });
  auto has = [&](const std::string& line) { return text.find(line) != std::string::npos; };
  CHECK(has("# TYPE focus_requests_total counter\n"));
  CHECK(has("focus_requests_total{model=\"spam\",code=\"200\"} 2\n"));
  CHECK(has("focus_requests_total{model=\"spam\",code=\"400\"} 1\n"));
  CHECK(has("focus_request_duration_seconds_bucket{model=\"spam\",le=\"0.005\"} 2\n"));
  CHECK(has("focus_request_duration_seconds_bucket{model=\"spam\",le=\"+Inf\"} 3\n"));
  CHECK(has("focus_request_duration_seconds_count{model=\"spam\"} 3\n"));
  CHECK(has("focus_batch_size_bucket{model=\"spam\",le=\"4\"} 0\n"));
  CHECK(has("focus_batch_size_bucket{model=\"spam\",le=\"8\"} 1\n"));
  CHECK(has("focus_queue_depth{model=\"spam\"} 7\n"));
  CHECK(deploy::prometheus_label("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
}
