#pragma once
// The `data` section of a text recipe (text classification or masked-LM
// pretraining): the split files, which fields hold text/label/group, the
// tokenizer, and the truncation policy.
#include <string>
#include <vector>

#include "focus/data/text_reader.h"
#include "focus/data/tokenizer.h"
#include "focus/util/json_reader.h"

namespace focus::data {

struct TextDataConfig {
  std::string root;                 ///< directory the split files are relative to
  std::string train = "train.jsonl";///< training split
  std::string val;                  ///< validation split ("" = hold out val_fraction of train)
  std::string test = "test.jsonl";  ///< test split
  TextReadOptions reader;           ///< format, text_field, label_field, group_field, header, invalid_utf8
  std::vector<std::string> class_names;  ///< label order ("" = the sorted labels of the training split)
  double val_fraction = 0.1;        ///< used only when val is ""
  uint64_t split_seed = 42;         ///< seed of the validation hold-out and of train_fraction's subset
  double train_fraction = 1.0;      ///< keep this fraction of the labelled training texts, per class (few-label runs)
  int64_t limit_train = 0;          ///< use only the first this many training texts (0 = all), for quick runs
  int64_t limit_test = 0;           ///< use only the first this many test texts (0 = all)
  TokenizerConfig tokenizer;        ///< trained on the training texts (all of them, before train_fraction)
  int64_t max_length = 256;         ///< tokens per text, [CLS] included; longer texts are cut
  int64_t tail_length = 0;          ///< of a longer text keep its last this many tokens too (head + tail; 0 = head only)
  int64_t max_sentences = 16;       ///< hierarchical models: sentences per text
  int64_t max_sentence_length = 32; ///< hierarchical models: tokens per sentence
  bool bucket_by_length = true;     ///< training batches of similar lengths (less padding)
  double mask_probability = 0.15;   ///< masked LM: chance that a token is chosen for prediction
  double token_dropout = 0.0;       ///< classification training: chance that a real token becomes [MASK] (0 = off)
};

TextDataConfig parse_text_data_config(const util::Json& json, const std::string& context);
util::Json to_json(const TextDataConfig& config);

}  // namespace focus::data
