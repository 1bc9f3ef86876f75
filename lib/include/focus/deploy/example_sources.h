#pragma once
// Where focus-predict's examples come from: image files and directories,
// texts given directly, text files (one text per line) and JSONL files (a
// text field and/or an image path relative to the file). Errors name the file
// and line.
#include <string>
#include <vector>

#include "focus/deploy/model_inputs.h"

namespace focus::deploy {

struct ExampleSourceOptions {
  std::vector<std::string> paths;       ///< image files, or directories searched recursively for images
  std::vector<std::string> texts;       ///< texts, one example each
  std::vector<std::string> text_files;  ///< one text per non-empty line ("-" = standard input)
  std::vector<std::string> jsonl_files; ///< one JSON object per line
  std::string text_field = "text";      ///< JSONL: the text
  std::string image_field = "image";    ///< JSONL: the image path, relative to the JSONL file
};

/// File extensions read as images from directories (lower case, with the dot).
const std::vector<std::string>& image_extensions();

/// Gathers the examples for a model reading `input`. Image + text models pair
/// paths with texts in order (equal counts) or read both from JSONL. Throws
/// focus::Error for a missing file, a bad line, or an input the model cannot read.
std::vector<RawExample> gather_examples(const ExampleSourceOptions& options, models::InputKind input);

}  // namespace focus::deploy
