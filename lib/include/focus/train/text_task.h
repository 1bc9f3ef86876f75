#pragma once
// Text classification and masked-LM pretraining: reading the split files,
// labels, the tokenizer (trained on the training texts, loaded from the run
// on resume, or taken from a pretrained run with model.init_from), encoding,
// and the batch sources.
#include <string>

#include "focus/data/text_encoding.h"
#include "focus/data/text_reader.h"
#include "focus/train/task.h"

namespace focus::train {

TaskData prepare_text_training(Recipe& recipe, const util::RunDirectory* existing, const data::Shard& shard = {});
/// The texts of a split of a trained run, exactly as evaluation sees them, in order.
struct TextSplit {
  std::vector<data::TextExample> examples;
  std::vector<int64_t> labels;  ///< class index per example (empty for a masked LM)
  std::string origin;           ///< the file they come from
};
TextSplit text_split(const TrainedRun& run, const std::string& split, const std::string& group_by = "");
/// How the run's texts are encoded (layout and truncation), as in training.
data::TextEncodingOptions text_encoding(const Recipe& recipe);

/// `group_by` ("" = the recipe's group_field) names the field that groups the examples.
EvalData prepare_text_evaluation(const TrainedRun& run, const std::string& split, int64_t batch_size,
                                 const std::string& group_by = "");

/// Copies every "encoder.*" parameter of a masked-LM run's weights (best.pt)
/// into `model`, which must have the same encoder shapes. Returns the number
/// of tensors copied. Throws focus::Error naming the run on a mismatch.
int64_t load_pretrained_encoder(models::Classifier& model, const std::string& pretrained_run);

}  // namespace focus::train
