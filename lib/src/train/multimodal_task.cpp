#include "focus/train/multimodal_task.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <random>
#include <set>

#include "focus/data/image_set.h"
#include "focus/data/multimodal_batch_source.h"
#include "focus/data/text_encoding.h"
#include "labels.h"
#include "focus/util/error.h"
#include "focus/util/log.h"

namespace focus::train {
namespace fs = std::filesystem;

namespace {

using data::ManifestExample;

std::string manifest_path(const data::MultimodalDataConfig& c, const std::string& file) {
  const fs::path p(file);
  return (p.is_absolute() ? p : fs::path(c.root) / p).lexically_normal().string();
}

struct Split {
  std::vector<ManifestExample> examples;
  std::string origin;  ///< the manifest they come from
};

Split read_split(const data::MultimodalDataConfig& c, const std::string& file) {
  Split s{data::read_manifest(manifest_path(c, file), c.reader), manifest_path(c, file)};
  if (s.examples.empty()) throw Error(s.origin + ": no records");
  return s;
}

/// Keeps the examples whose image satisfies `keep(image)`, in order.
template <class Pred>
std::vector<ManifestExample> filter_by_image(std::vector<ManifestExample> examples, Pred keep) {
  std::vector<ManifestExample> out;
  for (auto& e : examples)
    if (keep(e.image)) out.push_back(std::move(e));
  return out;
}

/// Training and validation examples; without a validation manifest, a seeded
/// val_fraction of the training images (with all their examples) is held out.
std::pair<Split, Split> load_train_val(const data::MultimodalDataConfig& c) {
  Split train = read_split(c, c.train);
  if (c.limit_train_images > 0) {
    std::set<std::string> kept;
    train.examples = filter_by_image(std::move(train.examples), [&](const std::string& image) {
      if (kept.count(image)) return true;
      if (static_cast<int64_t>(kept.size()) >= c.limit_train_images) return false;
      kept.insert(image);
      return true;
    });
  }
  if (!c.val.empty()) return {std::move(train), read_split(c, c.val)};
  std::vector<std::string> images;
  std::set<std::string> seen;
  for (const auto& e : train.examples)
    if (seen.insert(e.image).second) images.push_back(e.image);
  std::mt19937_64 rng(c.split_seed);
  std::shuffle(images.begin(), images.end(), rng);
  const auto n_val = static_cast<size_t>(c.val_fraction * static_cast<double>(images.size()));
  const std::set<std::string> val_images(images.begin(), images.begin() + static_cast<std::ptrdiff_t>(n_val));
  if (n_val == 0)
    throw Error(train.origin + ": data.val_fraction " + std::to_string(c.val_fraction) + " of " +
                std::to_string(images.size()) + " training images holds out no image for validation (use more images, "
                "a larger val_fraction or a val manifest)");
  Split val{filter_by_image(train.examples, [&](const std::string& i) { return val_images.count(i) > 0; }), train.origin};
  train.examples = filter_by_image(std::move(train.examples), [&](const std::string& i) { return val_images.count(i) == 0; });
  if (train.examples.empty()) throw Error(train.origin + ": no training examples left after the validation hold-out");
  return {std::move(train), std::move(val)};
}

std::vector<data::EncodedText> encode(const data::Tokenizer& tokenizer, const std::vector<ManifestExample>& examples,
                                      int64_t max_length, const std::string& what) {
  data::TextEncodingOptions options;
  options.max_length = max_length;
  std::vector<data::EncodedText> out;
  out.reserve(examples.size());
  int64_t cut = 0;
  for (const auto& e : examples) {
    out.push_back(data::encode_text(tokenizer, e.text, options));
    if (static_cast<int64_t>(out.back().tokens.size()) - 1 < out.back().original_tokens) ++cut;
  }
  if (cut > 0) util::log()->warn("{}: {} of {} texts cut to data.max_length {}", what, cut, examples.size(), max_length);
  return out;
}

std::unique_ptr<data::MultimodalBatchSource> make_source(const Split& split, const std::vector<int64_t>& labels,
                                                         const data::Tokenizer& tokenizer, const data::Normalization& norm,
                                                         const data::MultimodalDataConfig& c, int64_t batch_size,
                                                         bool training, const std::string& what,
                                                         data::ManifestImages images, const data::Shard& shard = {}) {
  data::MultimodalBatchOptions options;
  options.batch_size = batch_size * shard.count;
  options.shard = shard;
  options.shuffle = training;
  options.group_size = c.image_group_size;
  if (training) {
    std::vector<std::string> groups;
    groups.reserve(split.examples.size());
    for (const auto& e : split.examples) groups.push_back(e.group);
    options.first_epoch = data::curriculum_first_epochs(c.curriculum, groups, "data.curriculum");
  }
  return std::make_unique<data::MultimodalBatchSource>(std::move(images.images), norm,
                                                       encode(tokenizer, split.examples, c.max_length, what),
                                                       std::move(images.image_of), labels, options);
}

data::ManifestImages load_images(const Split& split, const data::MultimodalDataConfig& c) {
  return data::load_manifest_images(split.examples, split.origin, static_cast<int>(c.channels),
                                    static_cast<int>(c.image_size));
}

}  // namespace

TaskData prepare_multimodal_training(Recipe& recipe, const util::RunDirectory* existing, const data::Shard& shard) {
  auto& config = recipe.multimodal_data;
  config.root = fs::absolute(config.root).lexically_normal().string();
  auto [train, val] = load_train_val(config);

  TaskData task;
  if (existing) {  // a resumed run keeps the labels it started with
    util::convert(existing->read_json("labels.json"), existing->file("labels.json").string(), config.class_names);
  }
  task.class_names = class_names_for(config.class_names, train.examples);
  if (task.class_names.size() < 2)
    throw Error(train.origin + ": need at least two labels, found " + std::to_string(task.class_names.size()));
  const auto train_labels = label_indices(train.examples, task.class_names, train.origin);
  const auto val_labels = label_indices(val.examples, task.class_names, val.origin);

  std::shared_ptr<data::Tokenizer> tokenizer;
  if (existing) {
    tokenizer = data::load_tokenizer(existing->root());
  } else {
    std::vector<std::string> texts;
    texts.reserve(train.examples.size());
    for (const auto& e : train.examples) texts.push_back(e.text);
    tokenizer = data::train_tokenizer(config.tokenizer, texts);
    util::log()->info("tokenizer: {} with {} tokens, trained on {} texts", tokenizer->kind(), tokenizer->vocab_size(),
                      texts.size());
  }

  auto train_images = load_images(train, config);
  auto val_images = load_images(val, config);
  data::ImageSet stats;
  stats.images = train_images.images;
  const auto norm = existing ? data::normalization_from_json(existing->read_json("normalization.json"),
                                                             existing->file("normalization.json").string())
                             : data::compute_normalization(stats);

  task.input.channels = train_images.images.size(3);
  task.input.height = train_images.images.size(1);
  task.input.width = train_images.images.size(2);
  task.input.num_classes = static_cast<int64_t>(task.class_names.size());
  task.input.vocab_size = tokenizer->vocab_size();
  task.input.max_length = config.max_length;
  if (existing) {
    const auto saved = models::input_spec_from_json(existing->read_json("input.json"), existing->file("input.json").string());
    if (saved.vocab_size != task.input.vocab_size || saved.max_length != task.input.max_length)
      throw Error(existing->file("input.json").string() + ": the run's vocabulary or max_length differs from its tokenizer and recipe");
  }
  task.description = std::to_string(train.examples.size()) + " train examples on " +
                     std::to_string(train_images.images.size(0)) + " images, " + std::to_string(val.examples.size()) +
                     " validation examples on " + std::to_string(val_images.images.size(0)) + " images of " +
                     std::to_string(task.input.height) + "x" + std::to_string(task.input.width) + "x" +
                     std::to_string(task.input.channels) + ", " + std::to_string(task.class_names.size()) + " classes";

  task.train = make_source(train, train_labels, *tokenizer, norm, config, recipe.train.batch_size, true, "train",
                           std::move(train_images), shard);
  task.val = make_source(val, val_labels, *tokenizer, norm, config, recipe.train.eval_batch_size, false, "validation",
                         std::move(val_images));
  task.save = [tokenizer, norm, names = task.class_names](const util::RunDirectory& run) {
    run.write_json("labels.json", names);
    run.write_json("normalization.json", to_json(norm));
    tokenizer->save(run.root());
  };
  return task;
}

EvalData prepare_multimodal_evaluation(const TrainedRun& run, const std::string& split, int64_t batch_size,
                                       const std::string& group_by) {
  auto config = run.recipe.multimodal_data;
  if (!group_by.empty()) config.reader.group_field = group_by;
  Split examples;
  if (split == "test") {
    examples = read_split(config, config.test);
  } else {
    auto [train, val] = load_train_val(config);
    examples = split == "train" ? std::move(train) : std::move(val);
  }
  const auto labels = label_indices(examples.examples, run.class_names, examples.origin);
  EvalData out;
  if (!config.reader.group_field.empty())
    for (const auto& e : examples.examples) out.groups.push_back(e.group);
  for (const auto& e : examples.examples) {
    out.texts.push_back(e.text);
    out.lines.push_back(e.line);
  }
  out.origin = examples.origin;
  out.source = make_source(examples, labels, *run.tokenizer, run.normalization, config, batch_size, false, split,
                           load_images(examples, config));
  return out;
}

}  // namespace focus::train
