// The SentencePiece plugin (libfocus_sentencepiece.so): implements
// focus::data::spm::Backend with Debian's libsentencepiece. It links nothing
// of LibTorch; see lib/src/data/sentencepiece_backend.h for why it is separate.
#include "../src/data/sentencepiece_backend.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <stdexcept>

namespace {

using focus::data::spm::ModelInfo;
using focus::data::spm::RawPiece;

class LineIterator : public sentencepiece::SentenceIterator {
 public:
  explicit LineIterator(const std::vector<std::string_view>& lines) : lines_(lines) { load(); }
  bool done() const override { return index_ >= lines_.size(); }
  void Next() override {
    ++index_;
    load();
  }
  const std::string& value() const override { return current_; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  void load() {
    if (!done()) current_.assign(lines_[index_]);
  }
  const std::vector<std::string_view>& lines_;
  size_t index_ = 0;
  std::string current_;
};

class ProcessorModel : public focus::data::spm::Model {
 public:
  explicit ProcessorModel(const std::string& serialized) {
    const auto status = processor_.LoadFromSerializedProto(serialized);
    if (!status.ok()) throw std::runtime_error(status.ToString());
  }
  ModelInfo info() const override {
    return {processor_.GetPieceSize(), processor_.unk_id(), processor_.bos_id(), processor_.eos_id(),
            processor_.pad_id()};
  }
  bool is_control_or_unknown(int id) const override { return processor_.IsControl(id) || processor_.IsUnknown(id); }
  std::string id_to_piece(int id) const override { return processor_.IdToPiece(id); }
  std::vector<RawPiece> encode(std::string_view text) const override {
    sentencepiece::ImmutableSentencePieceText encoded;
    const auto status = processor_.Encode(text, encoded.mutable_proto());
    if (!status.ok()) throw std::runtime_error(status.ToString());
    std::vector<RawPiece> pieces;
    pieces.reserve(encoded.pieces_size());
    for (const auto& p : encoded.pieces())
      pieces.push_back({static_cast<int>(p.id()), p.piece(), p.begin(), p.end(), p.surface().empty()});
    return pieces;
  }

 private:
  sentencepiece::SentencePieceProcessor processor_;
};

class SentencePieceBackend : public focus::data::spm::Backend {
 public:
  std::unique_ptr<focus::data::spm::Model> load(const std::string& serialized) const override {
    return std::make_unique<ProcessorModel>(serialized);
  }
  std::string train(const std::unordered_map<std::string, std::string>& options,
                    const std::vector<std::string_view>& lines) const override {
    LineIterator iterator(lines);
    std::string model;
    const auto status = sentencepiece::SentencePieceTrainer::Train(options, &iterator, &model);
    if (!status.ok()) throw std::runtime_error(status.message());
    return model;
  }
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const focus::data::spm::Backend* focus_sentencepiece_backend() {
  static const SentencePieceBackend backend;
  return &backend;
}
