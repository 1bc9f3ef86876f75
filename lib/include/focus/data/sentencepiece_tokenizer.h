#pragma once
// Subword tokenizer backed by SentencePiece (unigram or BPE), trained in
// memory on the training texts and saved as tokenizer.json + tokenizer.model.
//
// Ids: SentencePiece is trained with its unknown piece at id 0 and without
// <s>, </s> or <pad>, so it never emits control pieces; its id 0 becomes our
// [UNK] (1) and its pieces 1.. become our ids 5.., leaving 0..4 to the special
// tokens. A text such as "[CLS]" is split into ordinary pieces (or [UNK]),
// never into a special id.
//
// Offsets: SentencePiece normalizes the text (NFKC, whitespace runs collapsed)
// but reports each piece's span in the original bytes. A piece that starts a
// word ("▁the") stands for the whitespace before it too; that leading ASCII
// whitespace is left out of its span, so, as with the word tokenizer,
// whitespace lies between tokens, never inside them. The marker "▁" alone
// with no text at all, which SentencePiece puts before a first word it cannot
// attach the marker to, is dropped; a lone "▁" standing for whitespace
// between words is kept (it marks a word boundary) as an empty span at the
// start of the next piece. A character that normalization expands into
// several pieces ("ﬁ" -> "f" "i") gives all but the last an empty span at its
// start. Non-ASCII spaces (U+00A0, U+3000) stay inside the span they lead.
//
// Training: texts are split into lines (empty lines skipped); a line longer
// than kMaxTrainingLineBytes is cut into chunks at whitespace (or at a UTF-8
// character boundary), since SentencePiece would otherwise skip it. With more
// lines than max_training_sentences an evenly spaced subset is used, so
// training is deterministic. vocab_size is an upper bound
// (hard_vocab_limit=false): a corpus too small for it yields fewer pieces,
// with a warning in the log. A vocab_size too small to hold every character
// that character_coverage keeps is an error that names the least size needed.
// SentencePiece's own log is limited to errors (its minloglevel is a
// process-wide setting of that library).
#include <memory>
#include <string>

#include "focus/data/tokenizer.h"

namespace focus::data::spm {
class Model;
}

namespace focus::data {

class SentencePieceTokenizer : public Tokenizer {
 public:
  /// SentencePiece's own limit on a training sentence is 4192 bytes.
  static constexpr size_t kMaxTrainingLineBytes = 4096;
  /// The model file save() writes next to tokenizer.json.
  static constexpr const char* kModelFile = "tokenizer.model";

  /// Loads a serialized SentencePiece model proto (as save() writes it);
  /// `origin` names it in errors. The model must have been trained with
  /// unk_id=0 and without bos/eos/pad pieces.
  SentencePieceTokenizer(std::string serialized_model, std::string model_type, const std::string& origin);
  ~SentencePieceTokenizer() override;

  /// Trains on the lines of `texts` with config.model_type, vocab_size,
  /// character_coverage and max_training_sentences.
  static std::unique_ptr<SentencePieceTokenizer> train(const TokenizerConfig& config,
                                                       const std::vector<std::string>& texts);
  /// Reads {"kind":"sentencepiece","model_file":..,"model_type":..} (`json`,
  /// from the file `origin`) and the model file it names, through `read`
  /// (files of the directory or archive `where`).
  static std::unique_ptr<SentencePieceTokenizer> load(const TokenizerFileReader& read, const std::string& where,
                                                      const util::Json& json, const std::string& origin);

  std::string kind() const override { return "sentencepiece"; }
  int64_t vocab_size() const override;
  std::vector<Token> tokenize(std::string_view text) const override;
  /// Special names for 0..4, otherwise the piece ("▁the", with the marker).
  std::string token_text(int64_t id) const override;
  void save(const std::filesystem::path& dir) const override;

  const std::string& model_type() const { return model_type_; }
  const std::string& serialized_model() const { return serialized_model_; }

 private:
  std::string serialized_model_;
  std::string model_type_;
  std::unique_ptr<spm::Model> model_;  ///< SentencePiece, through the plugin (see src/data/sentencepiece_backend.h)
  int pieces_ = 0;
};

}  // namespace focus::data
