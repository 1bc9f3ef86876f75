#include "focus/deploy/script_metadata.h"

#include "focus/util/error.h"

namespace focus::deploy {

std::string input_kind_name(models::InputKind kind) {
  switch (kind) {
    case models::InputKind::images: return "images";
    case models::InputKind::tokens: return "tokens";
    case models::InputKind::sentences: return "sentences";
    case models::InputKind::image_text: return "image_text";
  }
  return "images";
}

models::InputKind input_kind_from_name(const std::string& name, const std::string& context) {
  for (auto kind : {models::InputKind::images, models::InputKind::tokens, models::InputKind::sentences,
                    models::InputKind::image_text})
    if (input_kind_name(kind) == name) return kind;
  throw Error(context + ": expected one of {images, tokens, sentences, image_text}, found \"" + name + "\"");
}

namespace {
bool has_images(models::InputKind k) { return k == models::InputKind::images || k == models::InputKind::image_text; }
bool has_text(models::InputKind k) { return k != models::InputKind::images; }
}  // namespace

util::Json to_json(const ScriptMetadata& m) {
  util::Json j = {{"format", "focus-torchscript"},
                  {"version", kMetadataVersion},
                  {"arch", m.arch},
                  {"input", input_kind_name(m.input)},
                  {"class_names", m.class_names},
                  {"quantization", m.quantization}};
  if (has_images(m.input))
    j["image"] = {{"channels", m.channels}, {"height", m.height}, {"width", m.width},
                  {"normalization", data::to_json(m.normalization)}};
  if (has_text(m.input))
    j["text"] = {{"layout", m.text.layout == data::TextLayout::sentences ? "sentences" : "flat"},
                 {"max_length", m.text.max_length},
                 {"tail_length", m.text.tail_length},
                 {"max_sentences", m.text.max_sentences},
                 {"max_sentence_length", m.text.max_sentence_length},
                 {"tokenizer", m.tokenizer},
                 {"tokenizer_files", m.tokenizer_files}};
  return j;
}

ScriptMetadata metadata_from_json(const util::Json& json, const std::string& origin) {
  ScriptMetadata m;
  util::ObjectReader r(json, origin);
  std::string format, input;
  int version = 0;
  r.require("format", format).require("version", version);
  if (format != "focus-torchscript") throw Error(r.where("format") + ": expected \"focus-torchscript\", found \"" + format + "\"");
  if (version != kMetadataVersion)
    throw Error(r.where("version") + ": this build reads version " + std::to_string(kMetadataVersion) + ", found " +
                std::to_string(version) + " (export the run again with this build's focus-export)");
  r.require("arch", m.arch).require("input", input).require("class_names", m.class_names);
  r.read("quantization", m.quantization);
  m.input = input_kind_from_name(input, r.where("input"));
  if (has_images(m.input)) {
    const util::Json* image = r.find("image");
    if (!image) throw Error(origin + ": missing required key 'image' for " + input + " input");
    util::ObjectReader ir(*image, r.where("image"));
    util::Json normalization;
    ir.require("channels", m.channels).require("height", m.height).require("width", m.width);
    ir.require("normalization", normalization);
    m.normalization = data::normalization_from_json(normalization, ir.where("normalization"));
    if (m.channels < 1 || m.height < 1 || m.width < 1 ||
        static_cast<int64_t>(m.normalization.mean.size()) != m.channels)
      throw Error(r.where("image") + ": need channels, height, width >= 1 and one mean/std per channel");
  }
  if (has_text(m.input)) {
    const util::Json* text = r.find("text");
    if (!text) throw Error(origin + ": missing required key 'text' for " + input + " input");
    util::ObjectReader tr(*text, r.where("text"));
    std::string layout = "flat";
    tr.read_choice("layout", layout, {"flat", "sentences"});
    m.text.layout = layout == "sentences" ? data::TextLayout::sentences : data::TextLayout::flat;
    tr.require("max_length", m.text.max_length).read("tail_length", m.text.tail_length);
    tr.read("max_sentences", m.text.max_sentences);
    tr.read("max_sentence_length", m.text.max_sentence_length);
    tr.require("tokenizer", m.tokenizer).require("tokenizer_files", m.tokenizer_files);
    if (m.text.max_length < 2 || m.text.tail_length < 0 || m.text.tail_length >= m.text.max_length)
      throw Error(r.where("text") + ": need max_length >= 2 and 0 <= tail_length < max_length");
  }
  return m;
}

}  // namespace focus::deploy
