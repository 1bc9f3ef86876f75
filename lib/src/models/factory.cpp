#include "focus/models/factory.h"

#include "focus/models/attn_cnn.h"
#include "focus/util/error.h"

namespace focus::models {

std::vector<std::string> known_architectures() { return {"attncnn"}; }

std::shared_ptr<Classifier> build_model(const util::Json& model, const InputSpec& input, const std::string& context) {
  if (!model.is_object()) throw Error(context + ": expected an object, found " + util::json_type_name(model));
  if (!model.contains("arch") || !model["arch"].is_string())
    throw Error(context + ".arch: expected a string naming the architecture (one of: attncnn)");
  const std::string arch = model["arch"].get<std::string>();
  if (arch == "attncnn") {
    auto options = parse_attn_cnn_options(model, context);
    options.in_channels = input.channels;
    options.num_classes = input.num_classes;
    return std::make_shared<AttnCNNImpl>(options);
  }
  std::string known;
  for (const auto& a : known_architectures()) known += (known.empty() ? "" : ", ") + a;
  throw Error(context + ".arch: unknown architecture \"" + arch + "\" (known: " + known + ")");
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters())
    if (p.requires_grad()) n += p.numel();
  return n;
}

}  // namespace focus::models
