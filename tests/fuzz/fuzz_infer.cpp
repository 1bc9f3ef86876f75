// The body of POST /v2/models/{name}/infer (the Open Inference Protocol),
// against two small archives made at start-up: an image classifier without
// Focus metadata, and a Focus text classifier (word tokenizer, focus.json),
// which also reads "text" BYTES inputs. The first byte picks the model; the
// rest is the body. An accepted request must run through the model and give
// a response.
#include <stdlib.h>

#include <filesystem>

#include "focus/data/word_tokenizer.h"
#include "focus/deploy/inference_protocol.h"
#include "focus/deploy/to_torchscript.h"
#include "focus/models/factory.h"
#include "fuzz_common.h"

namespace {

using namespace focus;
namespace fs = std::filesystem;

struct Models {
  deploy::ScriptModel image, text;
};

Models make_models() {
  torch::manual_seed(0);
  char pattern[] = "/tmp/focus-fuzz-infer-XXXXXX";
  const fs::path dir = ::mkdtemp(pattern);
  auto image_net = models::build_model(
      util::Json::parse(R"({"arch": "attncnn", "stem_channels": 4, "stages": [{"channels": 8, "stride": 2}]})"),
      models::image_input(1, 3, 4, 4), "model");
  image_net->eval();
  deploy::to_torchscript(*image_net).save((dir / "image.pt").string());
  deploy::ForeignModelOptions foreign;
  foreign.channels = 1;
  foreign.height = foreign.width = 4;
  foreign.mean = {0.5};
  foreign.std = {0.25};
  foreign.class_names = {"a", "b", "c"};

  data::TokenizerConfig config;
  config.min_frequency = 1;
  const auto tokenizer = data::WordTokenizer::train(config, {"the quick brown fox", "jumps over the lazy dog"});
  models::InputSpec spec;
  spec.vocab_size = tokenizer->vocab_size();
  spec.max_length = 12;
  spec.num_classes = 2;
  auto text_net = models::build_model(
      util::Json::parse(R"({"arch": "text_transformer", "dim": 8, "layers": 1, "heads": 2})"), spec,
      "model");
  text_net->eval();
  deploy::ScriptMetadata metadata;
  metadata.arch = "text_transformer";
  metadata.input = models::InputKind::tokens;
  metadata.class_names = {"ham", "spam"};
  metadata.text.max_length = 12;
  metadata.tokenizer = "word";
  metadata.tokenizer_files = {data::kTokenizerFile};
  torch::jit::ExtraFilesMap extra;
  extra[deploy::kMetadataFile] = deploy::to_json(metadata).dump();
  extra[data::kTokenizerFile] = tokenizer->to_json().dump();
  deploy::to_torchscript(*text_net).save((dir / "text.pt").string(), extra);

  Models out{deploy::ScriptModel::load((dir / "image.pt").string(), torch::kCPU, foreign),
             deploy::ScriptModel::load((dir / "text.pt").string(), torch::kCPU)};
  fs::remove_all(dir);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Models models = make_models();
  if (size < 1) return 0;
  const auto& model = data[0] % 2 == 0 ? models.image : models.text;
  const std::string body(fuzz::bytes_of(data + 1, size - 1));
  deploy::InferRequest request;
  std::vector<torch::jit::IValue> inputs;
  if (!fuzz::accepts([&] {
        request = deploy::parse_infer_request(body);
        inputs = deploy::request_inputs(request, model);
      }))
    return 0;
  torch::Tensor logits;
  fuzz::require(fuzz::accepts([&] { logits = model.forward(inputs); }), "an accepted request runs through the model");
  fuzz::require(logits.dim() == 2 && logits.size(1) == (data[0] % 2 == 0 ? 3 : 2), "logits are [B, classes]");
  util::Json response;
  if (fuzz::accepts([&] { response = deploy::infer_response("m", request, logits); }))  // an unknown output name is a 400
    fuzz::require(response.contains("outputs") && !response.dump().empty(), "the response can be sent");
  return 0;
}
