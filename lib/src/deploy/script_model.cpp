#include "focus/deploy/script_model.h"

#include <filesystem>

#include "focus/data/sentencepiece_tokenizer.h"
#include "focus/util/error.h"

namespace focus::deploy {

ScriptModel ScriptModel::load(const std::string& path, const torch::Device& device, const ForeignModelOptions& foreign) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(path + ": no such model file");
  ScriptModel model;
  model.path_ = path;
  model.device_ = device;
  torch::jit::ExtraFilesMap extra{{kMetadataFile, ""}, {kRecipeFile, ""}, {data::kTokenizerFile, ""},
                                  {data::SentencePieceTokenizer::kModelFile, ""}};
  try {
    model.module_ = std::make_shared<torch::jit::Module>(torch::jit::load(path, device, extra));
  } catch (const c10::Error& e) {
    throw Error(path + ": not a TorchScript archive this LibTorch can load (" + e.what_without_backtrace() + ")");
  }
  model.module_->eval();
  if (!model.module_->find_method("forward")) throw Error(path + ": the TorchScript module has no forward method");

  if (!extra[kMetadataFile].empty()) {
    const std::string origin = path + ":" + kMetadataFile;
    model.metadata_ = metadata_from_json(util::parse_json_text(extra[kMetadataFile], origin), origin);
    model.from_focus_ = true;
    if (!model.metadata_.tokenizer.empty()) {
      auto read = [&](const std::string& name) {
        auto it = extra.find(name);
        if (it == extra.end() || it->second.empty()) throw Error(path + ": the archive has no extra file " + name);
        return it->second;
      };
      model.tokenizer_ = data::load_tokenizer(read, path);
    }
  } else {
    auto& m = model.metadata_;
    if (foreign.channels != 1 && foreign.channels != 3) throw Error("channels must be 1 or 3");
    if (foreign.height < 1 || foreign.width < 1) throw Error("the image height and width must be >= 1");
    if (static_cast<int64_t>(foreign.mean.size()) != foreign.channels ||
        static_cast<int64_t>(foreign.std.size()) != foreign.channels)
      throw Error(path + " has no Focus metadata: give one mean and one std per channel (" +
                  std::to_string(foreign.channels) + ")");
    for (double s : foreign.std)
      if (!(s > 0)) throw Error("every std must be > 0");
    m.input = models::InputKind::images;
    m.channels = foreign.channels;
    m.height = foreign.height;
    m.width = foreign.width;
    m.normalization = {foreign.mean, foreign.std};
    m.class_names = foreign.class_names;
  }
  return model;
}

const data::Tokenizer& ScriptModel::tokenizer() const {
  if (!tokenizer_) throw Error(path_ + ": the model reads no text, so it has no tokenizer");
  return *tokenizer_;
}

std::string ScriptModel::class_name(int64_t index) const {
  if (index >= 0 && index < static_cast<int64_t>(metadata_.class_names.size()))
    return metadata_.class_names[static_cast<size_t>(index)];
  return std::to_string(index);
}

bool ScriptModel::has_attention() const { return module_->find_method("forward_with_attention").has_value(); }

namespace {
torch::Tensor logits_of(const c10::IValue& value, const std::string& path) {
  if (value.isTensor()) return value.toTensor();
  if (value.isTuple() && !value.toTupleRef().elements().empty() && value.toTupleRef().elements()[0].isTensor())
    return value.toTupleRef().elements()[0].toTensor();
  throw Error(path + ": forward() returned " + value.tagKind() + ", expected a logits tensor");
}
}  // namespace

torch::Tensor ScriptModel::forward(const std::vector<torch::jit::IValue>& inputs) const {
  torch::NoGradGuard no_grad;
  auto logits = logits_of(module_->forward(inputs), path_);
  if (logits.dim() != 2) throw Error(path_ + ": forward() returned shape " + c10::str(logits.sizes()) + ", expected [B, classes]");
  return logits;
}

std::pair<torch::Tensor, std::vector<std::pair<std::string, torch::Tensor>>> ScriptModel::forward_with_attention(
    const std::vector<torch::jit::IValue>& inputs) const {
  auto method = module_->find_method("forward_with_attention");
  if (!method) throw Error(path_ + ": the archive has no forward_with_attention method (not exported by Focus)");
  torch::NoGradGuard no_grad;
  auto result = (*method)(inputs).toTuple();
  std::vector<std::pair<std::string, torch::Tensor>> maps;
  for (const auto& item : result->elements()[1].toGenericDict())
    maps.emplace_back(item.key().toStringRef(), item.value().toTensor());
  return {result->elements()[0].toTensor(), maps};
}

}  // namespace focus::deploy
