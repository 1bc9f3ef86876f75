#include "focus/data/multimodal_data_config.h"

#include <map>
#include <set>

#include "focus/util/error.h"

namespace focus::data {

namespace {

std::vector<CurriculumStage> parse_curriculum(const util::Json& json, const std::string& context) {
  if (!json.is_array()) throw Error(context + ": expected an array of stages, found " + util::json_type_name(json));
  std::vector<CurriculumStage> out;
  for (size_t i = 0; i < json.size(); ++i) {
    CurriculumStage stage;
    util::ObjectReader r(json[i], context + "[" + std::to_string(i) + "]");
    r.require("epochs", stage.epochs).require("groups", stage.groups);
    r.finish();
    if (stage.epochs < 1) throw Error(r.where("epochs") + ": must be at least 1");
    if (stage.groups.empty()) throw Error(r.where("groups") + ": must name at least one group");
    out.push_back(std::move(stage));
  }
  return out;
}

util::Json curriculum_json(const std::vector<CurriculumStage>& stages) {
  util::Json out = util::Json::array();
  for (const auto& s : stages) out.push_back({{"epochs", s.epochs}, {"groups", s.groups}});
  return out;
}

}  // namespace

std::vector<int64_t> curriculum_first_epochs(const std::vector<CurriculumStage>& stages,
                                             const std::vector<std::string>& groups, const std::string& context) {
  if (stages.empty()) return {};
  const std::set<std::string> present(groups.begin(), groups.end());
  std::map<std::string, int64_t> joins;  // group -> first epoch
  int64_t start = 1;
  for (size_t i = 0; i < stages.size(); ++i) {
    for (const auto& g : stages[i].groups) {
      if (!present.count(g)) {
        std::string found;
        for (const auto& p : present) found += (found.empty() ? "" : ", ") + ("\"" + p + "\"");
        throw Error(context + "[" + std::to_string(i) + "].groups: no training example has the group \"" + g +
                    "\" (found: " + (found.empty() ? "none; is data.group_field set?" : found) + ")");
      }
      joins.emplace(g, start);
    }
    start += stages[i].epochs;
  }
  std::vector<int64_t> out;
  out.reserve(groups.size());
  for (const auto& g : groups) {
    auto it = joins.find(g);
    out.push_back(it == joins.end() ? start : it->second);
  }
  return out;
}

MultimodalDataConfig parse_multimodal_data_config(const util::Json& json, const std::string& context) {
  MultimodalDataConfig c;
  c.tokenizer.min_frequency = 1;  // question vocabularies are small: keep every word seen
  util::ObjectReader r(json, context);
  r.require("root", c.root).read("train", c.train).read("val", c.val).read("test", c.test);
  auto& rd = c.reader;
  r.read("image_field", rd.image_field).read("text_field", rd.text_field);
  r.read("label_field", rd.label_field).read("group_field", rd.group_field);
  r.read("class_names", c.class_names).read("val_fraction", c.val_fraction).read("split_seed", c.split_seed);
  r.read("limit_train_images", c.limit_train_images).read("channels", c.channels).read("image_size", c.image_size);
  if (const auto* t = r.find("tokenizer")) c.tokenizer = parse_tokenizer_config(*t, r.where("tokenizer"));
  r.read("max_length", c.max_length).read("image_group_size", c.image_group_size);
  if (const auto* curriculum = r.find("curriculum")) c.curriculum = parse_curriculum(*curriculum, r.where("curriculum"));
  r.finish();
  if (!c.curriculum.empty() && rd.group_field.empty())
    throw Error(r.where("curriculum") + ": needs data.group_field, the manifest field that names each example's group");
  if (rd.image_field.empty() || rd.text_field.empty() || rd.label_field.empty())
    throw Error(context + ": image_field, text_field and label_field must name fields of the manifest");
  if (c.train.empty()) throw Error(r.where("train") + ": must name the training manifest");
  if (c.val.empty() && (c.val_fraction <= 0 || c.val_fraction >= 1))
    throw Error(r.where("val_fraction") + ": expected a value in (0, 1) (or a val manifest), found " +
                std::to_string(c.val_fraction));
  if (c.channels != 1 && c.channels != 3) throw Error(r.where("channels") + ": expected 1 or 3");
  if (c.image_size < 0 || c.limit_train_images < 0 || c.image_group_size < 0)
    throw Error(context + ": image_size, limit_train_images and image_group_size must be >= 0");
  if (c.max_length < 2) throw Error(r.where("max_length") + ": must be at least 2 ([CLS] and one token)");
  return c;
}

util::Json to_json(const MultimodalDataConfig& c) {
  const auto& rd = c.reader;
  return {{"root", c.root},
          {"train", c.train},
          {"val", c.val},
          {"test", c.test},
          {"image_field", rd.image_field},
          {"text_field", rd.text_field},
          {"label_field", rd.label_field},
          {"group_field", rd.group_field},
          {"class_names", c.class_names},
          {"val_fraction", c.val_fraction},
          {"split_seed", c.split_seed},
          {"limit_train_images", c.limit_train_images},
          {"channels", c.channels},
          {"image_size", c.image_size},
          {"tokenizer", to_json(c.tokenizer)},
          {"max_length", c.max_length},
          {"image_group_size", c.image_group_size},
          {"curriculum", curriculum_json(c.curriculum)}};
}

}  // namespace focus::data
