// focus-bench-model: the speed of one model, built from a recipe, on synthetic
// inputs of the recipe's shapes; the same measurement as
// bench/python/model_speed.py does for the same architecture in PyTorch, so
// that bench/run.sh python can report ratios.
//   focus-bench-model RECIPE.json INPUT_JSON [key=value ...]
// INPUT_JSON is the model's input (input.json of a run), e.g.
// '{"channels":1,"height":28,"width":28,"num_classes":10,"vocab_size":0,"max_length":0}'. Keys (defaults):
// batch=128 eval_batch=500 steps=30 eval_steps=10 repeats=300 threads=1
// length=0 (tokens per text; 0 = max_length) questions_per_image=20.
// Prints one JSON object: train and eval samples/s, batch-1 latency p50/p99 (ms),
// parameters and peak RSS (KiB).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <torch/nn/functional/loss.h>

#include "focus/data/multimodal_batch_source.h"
#include "focus/data/tokenizer.h"
#include "focus/models/factory.h"
#include "focus/nn/linear.h"
#include "focus/train/optimizer.h"
#include "focus/train/recipe.h"
#include "focus/train/trainer.h"
#include "focus/util/error.h"
#include "focus/util/runtime.h"

namespace {

using Clock = std::chrono::steady_clock;
double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

/// A batch of `n` synthetic examples shaped as the model reads them.
focus::data::Batch synthetic(focus::models::InputKind kind, const focus::models::InputSpec& in, int64_t n,
                             int64_t length, int64_t per_image) {
  focus::data::Batch b;
  b.targets = torch::randint(0, in.num_classes, {n});
  if (kind == focus::models::InputKind::images) {
    b.inputs = torch::randn({n, in.channels, in.height, in.width});
    return b;
  }
  b.inputs = torch::randint(5, std::max<int64_t>(6, in.vocab_size), {n, length});
  b.inputs.select(1, 0).fill_(focus::data::SpecialTokens::cls);
  b.mask = torch::ones({n, length}, torch::kBool);
  if (kind == focus::models::InputKind::image_text) {
    const int64_t images = (n + per_image - 1) / per_image;
    b.extra[focus::data::kBatchImages] = torch::randn({images, in.channels, in.height, in.width});
    b.extra[focus::data::kBatchImageIndex] = torch::arange(n, torch::kLong).div(per_image, "floor");
  }
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: focus-bench-model RECIPE.json INPUT_JSON [batch=128 eval_batch=500 steps=30 "
                         "eval_steps=10 repeats=300 threads=1 length=0 questions_per_image=20]\n");
    return 2;
  }
  try {
    std::map<std::string, int64_t> k = {{"batch", 128}, {"eval_batch", 500}, {"steps", 30}, {"eval_steps", 10},
                                        {"repeats", 300}, {"threads", 1}, {"length", 0}, {"questions_per_image", 20}};
    for (int i = 3; i < argc; ++i) {
      const std::string arg = argv[i];
      const auto eq = arg.find('=');
      if (eq == std::string::npos || !k.count(arg.substr(0, eq))) throw focus::Error("unknown argument " + arg);
      k[arg.substr(0, eq)] = std::stoll(arg.substr(eq + 1));
    }
    focus::util::configure_allocator();
    const int threads = focus::util::configure_threads(static_cast<int>(k["threads"]));
    const auto recipe = focus::train::load_recipe(argv[1]);
    const auto input = focus::models::input_spec_from_json(focus::util::Json::parse(argv[2]), "INPUT_JSON");
    torch::manual_seed(0);
    auto model = focus::models::build_model(recipe.model, input, "recipe: model");
    const auto kind = focus::models::input_kind(focus::models::architecture_of(recipe.model, "model"));
    const int64_t length = k["length"] > 0 ? k["length"] : input.max_length;
    if (recipe.train.channels_last) focus::train::to_channels_last(*model);  // as the Trainer does
    auto optimizer = focus::train::make_optimizer(*model, recipe.train.optimizer);

    // Training: forward, loss, backward, optimizer step on one fixed batch.
    auto train_batch = synthetic(kind, input, k["batch"], length, k["questions_per_image"]);
    model->train();
    auto step = [&] {
      optimizer->zero_grad();
      auto loss = torch::nn::functional::cross_entropy(model->forward(train_batch), train_batch.targets);
      loss.backward();
      optimizer->step();
    };
    for (int i = 0; i < 3; ++i) step();
    auto start = Clock::now();
    for (int64_t i = 0; i < k["steps"]; ++i) step();
    const double train_rate = static_cast<double>(k["steps"] * k["batch"]) / seconds(Clock::now() - start);

    // Evaluation: forward only, without gradients.
    model->eval();
    auto eval_batch = synthetic(kind, input, k["eval_batch"], length, k["questions_per_image"]);
    double eval_rate = 0;
    {
      torch::InferenceMode inference;
      model->forward(eval_batch);
      start = Clock::now();
      for (int64_t i = 0; i < k["eval_steps"]; ++i) model->forward(eval_batch);
      eval_rate = static_cast<double>(k["eval_steps"] * k["eval_batch"]) / seconds(Clock::now() - start);
    }

    // Batch-1 latency.
    auto one = synthetic(kind, input, 1, length, 1);
    std::vector<double> latency;
    {
      torch::InferenceMode inference;
      for (int i = 0; i < 20; ++i) model->forward(one);
      for (int64_t i = 0; i < k["repeats"]; ++i) {
        const auto t = Clock::now();
        model->forward(one);
        latency.push_back(seconds(Clock::now() - t) * 1000);
      }
    }
    // Text Transformers: the encoder's achieved FLOP/s in evaluation against this
    // machine's GEMM rate (1024 x 1024 float32 matrix products, same threads, split
    // over them as Focus's layers split theirs: on 2 threads, both cores' rate).
    double gemm_gflops = 0, encoder_gflops = 0;
    if (focus::models::architecture_of(recipe.model, "model") == "text_transformer") {
      auto a = torch::randn({1024, 1024}), b = torch::randn({1024, 1024});
      for (int i = 0; i < 3; ++i) focus::nn::row_parallel_mm(a, b);
      start = Clock::now();
      for (int i = 0; i < 20; ++i) focus::nn::row_parallel_mm(a, b);
      gemm_gflops = 20 * 2.0 * 1024 * 1024 * 1024 / seconds(Clock::now() - start) / 1e9;
      const double d = recipe.model.value("dim", 128), n = recipe.model.value("layers", 2);
      const double ff = recipe.model.value("ff_dim", 0) > 0 ? recipe.model.value("ff_dim", 0) : 4 * d;
      const double l = static_cast<double>(length);
      // Per layer and text: Q, K, V, output projections 4 x 2Ld^2; scores and weighted sum 2 x 2L^2 d; feed-forward 2 x 2Ld ff.
      const double flops = n * (8 * l * d * d + 4 * l * l * d + 4 * l * d * ff);
      encoder_gflops = eval_rate * flops / 1e9;
    }
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::printf("{\"side\": \"focus\", \"arch\": \"%s\", \"parameters\": %ld, \"threads\": %d, \"batch\": %ld, "
                "\"train_samples_per_s\": %.1f, \"eval_samples_per_s\": %.1f, \"latency_p50_ms\": %.4f, "
                "\"latency_p99_ms\": %.4f, \"peak_rss_kib\": %ld, \"gemm_gflops\": %.2f, \"encoder_gflops\": %.2f}\n",
                focus::models::architecture_of(recipe.model, "model").c_str(),
                static_cast<long>(focus::models::count_parameters(*model)), threads, static_cast<long>(k["batch"]),
                train_rate, eval_rate, percentile(latency, 0.5), percentile(latency, 0.99),
                static_cast<long>(usage.ru_maxrss), gemm_gflops, encoder_gflops);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "focus-bench-model: error: %s\n", e.what());
    return 1;
  }
}
