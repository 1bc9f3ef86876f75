#pragma once
// The `data` section of a multimodal (image + text) recipe: the manifests
// (see multimodal_manifest.h), which fields hold image/text/label/group, the
// image decoding, the tokenizer and the validation hold-out (by image, so
// that no image is seen in both training and validation).
#include <string>
#include <vector>

#include "focus/data/multimodal_manifest.h"
#include "focus/data/tokenizer.h"
#include "focus/util/json_reader.h"

namespace focus::data {

/// One stage of a training curriculum: for `epochs` epochs, train only on the
/// examples whose group (the manifest's group_field) is in `groups`.
struct CurriculumStage {
  int64_t epochs = 1;
  std::vector<std::string> groups;
};

struct MultimodalDataConfig {
  std::string root;                  ///< directory the manifests are relative to
  std::string train = "train.jsonl"; ///< training manifest
  std::string val;                   ///< validation manifest ("" = hold out val_fraction of the training images)
  std::string test = "test.jsonl";   ///< test manifest
  ManifestReadOptions reader;        ///< image_field, text_field, label_field, group_field
  std::vector<std::string> class_names;  ///< label order ("" = the sorted labels of the training manifest)
  double val_fraction = 0.05;        ///< share of training images held out, in (0, 1); used only when val is ""
  uint64_t split_seed = 42;          ///< seed of the hold-out
  int64_t limit_train_images = 0;    ///< use only the examples of the first this many training images (0 = all)
  int64_t channels = 3;              ///< 1 = grayscale, 3 = RGB
  int64_t image_size = 0;            ///< resize to a square of this side (0 = keep; all images must agree)
  TokenizerConfig tokenizer;         ///< trained on the training texts
  int64_t max_length = 64;           ///< tokens per text, [CLS] included
  int64_t image_group_size = 0;      ///< training batches keep this many examples of an image together
                                     ///< (0 = all of them: fewest image encodings, least image variety)
  /// Stages run one after another from epoch 1; a group joins at the first
  /// stage that names it and stays; groups no stage names join after the last
  /// stage. Empty = every example from epoch 1. Validation always uses all.
  std::vector<CurriculumStage> curriculum;
};

/// Per training example (by group), the first epoch that trains on it under
/// `stages`; empty when there are no stages. Throws when a stage names a group
/// that no example has (`context` names the recipe key in the message).
std::vector<int64_t> curriculum_first_epochs(const std::vector<CurriculumStage>& stages,
                                             const std::vector<std::string>& groups, const std::string& context);

MultimodalDataConfig parse_multimodal_data_config(const util::Json& json, const std::string& context);
util::Json to_json(const MultimodalDataConfig& config);

}  // namespace focus::data
