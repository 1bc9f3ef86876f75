#pragma once
// Writing explained images: per example and method an overlay PNG (the input's
// size) and the raw map as .npy, a grid PNG comparing the methods, then
// heatmaps.json and an index.html linking everything. Image + text examples
// also show the question; a map with one map per question word adds a strip
// PNG (a tile per word) and an overlay per word, shown on the page when the
// pointer is over that word. Shared by focus-heatmap on a run and on a
// TorchScript archive.
#include <filesystem>
#include <string>
#include <vector>

#include <torch/types.h>

#include "focus/data/tokenizer.h"
#include "focus/util/json_reader.h"

namespace focus::explain {

struct ExplainedImage {
  std::string id;         ///< file stem and first column ("00012", or the image's file name)
  int64_t index = -1;     ///< position in the split (-1: not from a split)
  std::string label;      ///< the true class ("" when unknown)
  std::string predicted;  ///< predicted class name
  double predicted_probability = 0;
  std::string target;     ///< the explained class
  double probability = 0; ///< of the explained class
  torch::Tensor pixels;   ///< uint8 [H, W, C]
  std::string question;   ///< image + text models: the text asked about the image ("" otherwise)
  std::vector<data::Token> words;  ///< the question's tokens (byte offsets into `question`), [CLS] excluded
  struct Map {
    std::string method;
    torch::Tensor raw;    ///< [h, w], not normalised
    std::string source;
    std::vector<torch::Tensor> per_word;  ///< [h, w] per entry of `words` (cross-attention methods), or empty
  };
  std::vector<Map> maps;  ///< in `methods` order
};

struct ImagePageSummary {
  std::string index_html;
  int64_t files = 0;
};

/// Renders every file in memory first, then writes them atomically into
/// `out_dir` (created if needed). `header` becomes the top of heatmaps.json
/// (plus "methods" and "examples"); `description` is HTML shown above the table.
ImagePageSummary write_image_heatmaps(const std::filesystem::path& out_dir, util::Json header,
                                      const std::string& description, const std::vector<std::string>& methods,
                                      const std::vector<ExplainedImage>& examples);

}  // namespace focus::explain
