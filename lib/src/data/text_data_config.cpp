#include "focus/data/text_data_config.h"

#include "focus/util/error.h"

namespace focus::data {

TextDataConfig parse_text_data_config(const util::Json& json, const std::string& context) {
  TextDataConfig c;
  util::ObjectReader r(json, context);
  r.require("root", c.root).read("train", c.train).read("val", c.val).read("test", c.test);
  auto& rd = c.reader;
  r.read_choice("format", rd.format, {"auto", "csv", "tsv", "jsonl"});
  r.read("text_field", rd.text_field).read("label_field", rd.label_field).read("group_field", rd.group_field);
  r.read("header", rd.header).read_choice("invalid_utf8", rd.invalid_utf8, {"error", "repair"});
  r.read("class_names", c.class_names).read("val_fraction", c.val_fraction).read("split_seed", c.split_seed);
  r.read("train_fraction", c.train_fraction).read("limit_train", c.limit_train).read("limit_test", c.limit_test);
  if (const auto* t = r.find("tokenizer")) c.tokenizer = parse_tokenizer_config(*t, r.where("tokenizer"));
  r.read("max_length", c.max_length).read("tail_length", c.tail_length).read("max_sentences", c.max_sentences);
  r.read("max_sentence_length", c.max_sentence_length).read("bucket_by_length", c.bucket_by_length);
  r.read("mask_probability", c.mask_probability).read("token_dropout", c.token_dropout);
  r.finish();
  if (rd.text_field.empty()) throw Error(r.where("text_field") + ": must name the field that holds the text");
  if (c.train.empty()) throw Error(r.where("train") + ": must name the training file");
  if (c.val_fraction < 0 || c.val_fraction >= 1)
    throw Error(r.where("val_fraction") + ": expected a value in [0, 1), found " + std::to_string(c.val_fraction));
  if (c.train_fraction <= 0 || c.train_fraction > 1)
    throw Error(r.where("train_fraction") + ": expected a value in (0, 1], found " + std::to_string(c.train_fraction));
  if (c.max_length < 2) throw Error(r.where("max_length") + ": must be at least 2 ([CLS] and one token)");
  if (c.tail_length < 0 || c.tail_length >= c.max_length)
    throw Error(r.where("tail_length") + ": expected a value in [0, max_length " + std::to_string(c.max_length) +
                "), found " + std::to_string(c.tail_length));
  if (c.max_sentences < 1 || c.max_sentence_length < 1)
    throw Error(context + ": max_sentences and max_sentence_length must be at least 1");
  if (c.limit_train < 0 || c.limit_test < 0) throw Error(context + ": limit_train and limit_test must be >= 0");
  if (c.mask_probability <= 0 || c.mask_probability > 1)
    throw Error(r.where("mask_probability") + ": expected a value in (0, 1]");
  if (c.token_dropout < 0 || c.token_dropout >= 1)
    throw Error(r.where("token_dropout") + ": expected a value in [0, 1), found " + std::to_string(c.token_dropout));
  return c;
}

util::Json to_json(const TextDataConfig& c) {
  const auto& rd = c.reader;
  return {{"root", c.root},
          {"train", c.train},
          {"val", c.val},
          {"test", c.test},
          {"format", rd.format},
          {"text_field", rd.text_field},
          {"label_field", rd.label_field},
          {"group_field", rd.group_field},
          {"header", rd.header},
          {"invalid_utf8", rd.invalid_utf8},
          {"class_names", c.class_names},
          {"val_fraction", c.val_fraction},
          {"split_seed", c.split_seed},
          {"train_fraction", c.train_fraction},
          {"limit_train", c.limit_train},
          {"limit_test", c.limit_test},
          {"tokenizer", to_json(c.tokenizer)},
          {"max_length", c.max_length},
          {"tail_length", c.tail_length},
          {"max_sentences", c.max_sentences},
          {"max_sentence_length", c.max_sentence_length},
          {"bucket_by_length", c.bucket_by_length},
          {"mask_probability", c.mask_probability},
          {"token_dropout", c.token_dropout}};
}

}  // namespace focus::data
