#include "focus/train/text_task.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "focus/data/text_batch_source.h"
#include "focus/data/text_reader.h"
#include "labels.h"
#include "focus/models/masked_language_model.h"
#include "focus/models/text_transformer.h"
#include "focus/util/error.h"
#include "focus/util/log.h"

namespace focus::train {
namespace fs = std::filesystem;

namespace {

/// The training and validation texts, as training sees them.
struct TextSplits {
  std::vector<data::TextExample> train, val;
  std::string train_origin, val_origin;
};

std::string split_path(const data::TextDataConfig& c, const std::string& file) {
  const fs::path p(file);
  return (p.is_absolute() ? p : fs::path(c.root) / p).lexically_normal().string();
}

std::vector<data::TextExample> read_split(const data::TextDataConfig& c, const std::string& file, bool labelled,
                                          int64_t limit) {
  auto options = c.reader;
  if (!labelled) options.label_field.clear();
  const std::string path = split_path(c, file);
  auto examples = data::read_text_file(path, options);
  if (limit > 0 && static_cast<int64_t>(examples.size()) > limit) examples.resize(static_cast<size_t>(limit));
  if (examples.empty()) throw Error(path + ": no records");
  return examples;
}

TextSplits load_train_val(const data::TextDataConfig& c, bool labelled) {
  TextSplits s;
  s.train_origin = split_path(c, c.train);
  s.train = read_split(c, c.train, labelled, c.limit_train);
  if (!c.val.empty()) {
    s.val_origin = split_path(c, c.val);
    s.val = read_split(c, c.val, labelled, 0);
    return s;
  }
  // Hold out val_fraction of the training file, seeded.
  s.val_origin = s.train_origin;
  std::vector<size_t> order(s.train.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937_64 rng(c.split_seed);
  std::shuffle(order.begin(), order.end(), rng);
  const auto n_val = static_cast<size_t>(c.val_fraction * static_cast<double>(order.size()));
  std::vector<bool> is_val(order.size(), false);
  for (size_t i = 0; i < n_val; ++i) is_val[order[i]] = true;
  std::vector<data::TextExample> train;
  for (size_t i = 0; i < s.train.size(); ++i) (is_val[i] ? s.val : train).push_back(std::move(s.train[i]));
  s.train = std::move(train);
  return s;
}

/// Keeps `fraction` of each class (at least one example), seeded; order preserved.
void keep_fraction(std::vector<data::TextExample>& examples, std::vector<int64_t>& labels, double fraction,
                   uint64_t seed) {
  if (fraction >= 1.0) return;
  std::map<int64_t, std::vector<size_t>> by_class;
  for (size_t i = 0; i < labels.size(); ++i) by_class[labels[i]].push_back(i);
  std::vector<bool> keep(labels.size(), false);
  std::mt19937_64 rng(seed ^ 0x5eedf00dULL);
  for (auto& [label, members] : by_class) {
    std::shuffle(members.begin(), members.end(), rng);
    const auto n = std::max<size_t>(1, static_cast<size_t>(fraction * static_cast<double>(members.size()) + 0.5));
    for (size_t i = 0; i < n && i < members.size(); ++i) keep[members[i]] = true;
  }
  std::vector<data::TextExample> e2;
  std::vector<int64_t> l2;
  for (size_t i = 0; i < labels.size(); ++i)
    if (keep[i]) {
      e2.push_back(std::move(examples[i]));
      l2.push_back(labels[i]);
    }
  examples = std::move(e2);
  labels = std::move(l2);
}

data::TextEncodingOptions encoding_options(const Recipe& recipe) {
  data::TextEncodingOptions o;
  const auto& c = recipe.text_data;
  o.layout = models::input_kind(models::architecture_of(recipe.model, "model")) == models::InputKind::sentences
                 ? data::TextLayout::sentences
                 : data::TextLayout::flat;
  o.max_length = c.max_length;
  o.tail_length = c.tail_length;
  o.max_sentences = c.max_sentences;
  o.max_sentence_length = c.max_sentence_length;
  return o;
}

std::vector<data::EncodedText> encode_all(const data::Tokenizer& tokenizer, const std::vector<data::TextExample>& examples,
                                          const data::TextEncodingOptions& options, const std::string& what) {
  std::vector<data::EncodedText> out;
  out.reserve(examples.size());
  int64_t cut = 0, empty = 0;
  for (const auto& e : examples) {
    out.push_back(data::encode_text(tokenizer, e.text, options));
    const auto& t = out.back();
    const int64_t kept = static_cast<int64_t>(t.tokens.size()) - (options.layout == data::TextLayout::flat ? 1 : 0);
    if (kept < t.original_tokens) ++cut;
    if (t.original_tokens == 0) ++empty;
  }
  util::log()->info("{}: {} texts, {} cut to the length limit, {} empty", what, examples.size(), cut, empty);
  return out;
}

data::TextBatchOptions batch_options(const Recipe& recipe, const models::InputSpec& input, bool training,
                                     const data::Shard& shard = {}) {
  data::TextBatchOptions o;
  o.batch_size = training ? recipe.train.batch_size * shard.count : recipe.train.eval_batch_size;
  o.shard = shard;
  o.shuffle = training;
  o.bucket_by_length = training && recipe.text_data.bucket_by_length;
  o.layout = encoding_options(recipe).layout;
  o.masked_lm = recipe.task == kMaskedLm;
  o.masking.probability = recipe.text_data.mask_probability;
  o.masking.vocab_size = input.vocab_size;
  if (training && recipe.task != kMaskedLm) o.token_dropout = recipe.text_data.token_dropout;
  return o;
}

/// The pretrained run a classification recipe starts from ("" = none).
std::string init_from_of(const Recipe& recipe) {
  if (models::architecture_of(recipe.model, "model") != "text_transformer") return {};
  return models::parse_text_transformer_options(recipe.model, "model").init_from;
}

/// Takes the encoder shape of the pretrained run into the recipe (a mismatch
/// the user wrote is an error) and returns the pretrained run's input spec.
models::InputSpec inherit_pretrained(Recipe& recipe, const std::string& run_dir) {
  auto run = util::RunDirectory::open(run_dir);
  const std::string origin = run.file("recipe.json").string();
  const auto pretrained = parse_recipe(run.read_json("recipe.json"), origin);
  if (pretrained.task != kMaskedLm)
    throw Error("model.init_from: " + run_dir + " is a " + pretrained.task + " run, not a masked_lm run");
  if (!run.exists("best.pt")) throw Error("model.init_from: " + run.file("best.pt").string() + " does not exist");
  // Compare parsed settings, so defaults count as much as written values.
  const auto theirs = models::to_json(models::parse_masked_lm_options(pretrained.model, origin + ": model").encoder);
  const auto ours = models::to_json(models::parse_text_transformer_options(recipe.model, "model").encoder);
  for (const char* key : {"dim", "layers", "heads", "ff_dim", "positions"}) {
    if (recipe.model.contains(key) && ours[key] != theirs[key])
      throw Error("model." + std::string(key) + " is " + ours[key].dump() + " but the pretrained encoder in " + run_dir +
                  " has " + theirs[key].dump() + " (leave it out to inherit it)");
    recipe.model[key] = theirs[key];
  }
  recipe.text_data.tokenizer = pretrained.text_data.tokenizer;  // the tokenizer used is the pretrained one
  auto input = models::input_spec_from_json(run.read_json("input.json"), run.file("input.json").string());
  if (recipe.text_data.max_length > input.max_length)
    throw Error("data.max_length " + std::to_string(recipe.text_data.max_length) +
                " is longer than the pretrained encoder's " + std::to_string(input.max_length));
  return input;
}

}  // namespace

TaskData prepare_text_training(Recipe& recipe, const util::RunDirectory* existing, const data::Shard& shard) {
  auto& config = recipe.text_data;
  config.root = fs::absolute(config.root).lexically_normal().string();
  const bool masked_lm = recipe.task == kMaskedLm;
  auto splits = load_train_val(config, !masked_lm);
  std::optional<models::InputSpec> saved_input;
  if (existing) {  // a resumed run keeps the labels and input it started with
    util::convert(existing->read_json("labels.json"), existing->file("labels.json").string(), config.class_names);
    saved_input = models::input_spec_from_json(existing->read_json("input.json"), existing->file("input.json").string());
  }

  std::string init_from = existing ? std::string() : init_from_of(recipe);
  models::InputSpec pretrained_input;
  if (!init_from.empty()) {
    init_from = fs::absolute(init_from).lexically_normal().string();
    recipe.model["init_from"] = init_from;
    pretrained_input = inherit_pretrained(recipe, init_from);
  }

  std::shared_ptr<data::Tokenizer> tokenizer;
  if (existing) {
    tokenizer = data::load_tokenizer(existing->root());
  } else if (!init_from.empty()) {
    tokenizer = data::load_tokenizer(init_from);
    util::log()->info("tokenizer: {} ({} tokens) from {}", tokenizer->kind(), tokenizer->vocab_size(), init_from);
  } else {
    std::vector<std::string> texts;
    texts.reserve(splits.train.size());
    for (const auto& e : splits.train) texts.push_back(e.text);
    tokenizer = data::train_tokenizer(config.tokenizer, texts);
    util::log()->info("tokenizer: {} with {} tokens, trained on {} texts", tokenizer->kind(), tokenizer->vocab_size(),
                      texts.size());
  }

  if (masked_lm && config.train_fraction < 1.0)
    util::log()->warn("data.train_fraction is ignored for masked-LM pretraining (it uses every training text)");
  TaskData task;
  std::vector<int64_t> train_labels, val_labels;
  if (!masked_lm) {
    task.class_names = class_names_for(config.class_names, splits.train);
    if (task.class_names.size() < 2)
      throw Error(splits.train_origin + ": need at least two labels, found " + std::to_string(task.class_names.size()));
    train_labels = label_indices(splits.train, task.class_names, splits.train_origin);
    val_labels = label_indices(splits.val, task.class_names, splits.val_origin);
    keep_fraction(splits.train, train_labels, config.train_fraction, config.split_seed);
  }
  task.input.vocab_size = tokenizer->vocab_size();
  task.input.max_length = !init_from.empty() ? pretrained_input.max_length
                          : saved_input      ? saved_input->max_length
                                             : config.max_length;
  if (saved_input && saved_input->vocab_size != task.input.vocab_size)
    throw Error(existing->file("input.json").string() + ": the run was trained with " +
                std::to_string(saved_input->vocab_size) + " tokens but its tokenizer has " +
                std::to_string(task.input.vocab_size));
  if (task.input.max_length < config.max_length)
    throw Error("data.max_length " + std::to_string(config.max_length) + " is longer than the model's " +
                std::to_string(task.input.max_length) + " positions");
  task.input.num_classes = masked_lm ? tokenizer->vocab_size() : static_cast<int64_t>(task.class_names.size());
  task.input.channels = task.input.height = task.input.width = 0;
  task.description = std::to_string(splits.train.size()) + " train, " + std::to_string(splits.val.size()) +
                     " validation texts" +
                     (masked_lm ? std::string(", masked-LM pretraining")
                                : ", " + std::to_string(task.class_names.size()) + " classes");

  const auto encoding = encoding_options(recipe);
  task.train = std::make_unique<data::TextBatchSource>(encode_all(*tokenizer, splits.train, encoding, "train"),
                                                       std::move(train_labels), batch_options(recipe, task.input, true, shard));
  task.val = std::make_unique<data::TextBatchSource>(encode_all(*tokenizer, splits.val, encoding, "validation"),
                                                     std::move(val_labels), batch_options(recipe, task.input, false));
  task.save = [tokenizer, names = task.class_names](const util::RunDirectory& run) {
    run.write_json("labels.json", names);
    tokenizer->save(run.root());
  };
  if (!init_from.empty())
    task.initialize = [init_from](models::Classifier& model) {
      const auto copied = load_pretrained_encoder(model, init_from);
      util::log()->info("initialised {} encoder tensors from {}", copied, init_from);
    };
  return task;
}

TextSplit text_split(const TrainedRun& run, const std::string& split, const std::string& group_by) {
  auto config = run.recipe.text_data;
  if (!group_by.empty()) config.reader.group_field = group_by;
  const bool masked_lm = run.recipe.task == kMaskedLm;
  TextSplit out;
  if (split == "test") {
    out.origin = split_path(config, config.test);
    out.examples = read_split(config, config.test, !masked_lm, config.limit_test);
  } else {
    auto splits = load_train_val(config, !masked_lm);
    if (split == "train") {
      out.examples = std::move(splits.train);
      out.origin = splits.train_origin;
    } else {
      out.examples = std::move(splits.val);
      out.origin = splits.val_origin;
    }
  }
  if (!masked_lm) {
    out.labels = label_indices(out.examples, run.class_names, out.origin);
    if (split == "train") keep_fraction(out.examples, out.labels, config.train_fraction, config.split_seed);
  }
  return out;
}

data::TextEncodingOptions text_encoding(const Recipe& recipe) { return encoding_options(recipe); }

EvalData prepare_text_evaluation(const TrainedRun& run, const std::string& split, int64_t batch_size,
                                 const std::string& group_by) {
  auto data = text_split(run, split, group_by);
  EvalData out;
  if (!group_by.empty() || !run.recipe.text_data.reader.group_field.empty())
    for (const auto& e : data.examples) out.groups.push_back(e.group);
  auto options = batch_options(run.recipe, run.input, false);
  options.batch_size = batch_size;
  out.source = std::make_unique<data::TextBatchSource>(
      encode_all(*run.tokenizer, data.examples, encoding_options(run.recipe), split), std::move(data.labels), options);
  return out;
}

int64_t load_pretrained_encoder(models::Classifier& model, const std::string& pretrained_run) {
  auto pretrained = load_trained_run(pretrained_run, "best.pt", torch::kCPU);
  auto target = model.named_parameters(/*recurse=*/true);
  auto target_buffers = model.named_buffers(/*recurse=*/true);
  torch::NoGradGuard no_grad;
  int64_t copied = 0;
  auto copy_all = [&](const torch::OrderedDict<std::string, torch::Tensor>& from,
                      torch::OrderedDict<std::string, torch::Tensor>& to) {
    for (const auto& item : from) {
      if (item.key().rfind("encoder.", 0) != 0) continue;
      auto* t = to.find(item.key());
      if (!t) throw Error(pretrained_run + ": the model has no tensor '" + item.key() + "' to initialise");
      if (t->sizes() != item.value().sizes())
        throw Error(pretrained_run + ": tensor '" + item.key() + "' has shape " + c10::str(item.value().sizes()) +
                    ", the model expects " + c10::str(t->sizes()));
      t->copy_(item.value());
      ++copied;
    }
  };
  copy_all(pretrained.model->named_parameters(true), target);
  copy_all(pretrained.model->named_buffers(true), target_buffers);
  if (copied == 0) throw Error(pretrained_run + ": no encoder weights found");
  return copied;
}

}  // namespace focus::train
