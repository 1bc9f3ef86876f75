#include "focus/data/sentencepiece_tokenizer.h"

#include "sentencepiece_backend.h"

#include <cstdlib>
#include <sstream>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "focus/util/atomic_file.h"
#include "focus/util/error.h"
#include "focus/util/log.h"

namespace focus::data {
namespace {

using Piece = spm::RawPiece;

constexpr std::string_view kWordMarker = "\xE2\x96\x81";  // "▁", SentencePiece's whitespace marker
/// Our ids are SentencePiece's plus this, except its <unk> (0), which is ours.
constexpr int64_t kIdShift = SpecialTokens::count - 1;

bool is_ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ascii_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ascii_space(s.back())) s.remove_suffix(1);
  return s;
}

/// Where to cut a line longer than `limit`: after the last whitespace that
/// keeps the chunk within the limit, else at the last UTF-8 character start.
size_t chunk_length(std::string_view line, size_t limit) {
  if (line.size() <= limit) return line.size();
  for (size_t i = limit; i > 0; --i)
    if (is_ascii_space(line[i])) return i;
  size_t i = limit;
  while (i > 0 && (static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) --i;
  return i > 0 ? i : limit;
}

void append_chunks(std::string_view line, std::vector<std::string_view>& out) {
  for (line = trim(line); !line.empty(); line = trim(line)) {
    const size_t n = chunk_length(line, SentencePieceTokenizer::kMaxTrainingLineBytes);
    out.push_back(line.substr(0, n));
    line.remove_prefix(n);
  }
}

/// The non-blank lines of all texts, long ones cut into chunks.
std::vector<std::string_view> training_lines(const std::vector<std::string>& texts) {
  std::vector<std::string_view> lines;
  for (std::string_view text : texts) {
    while (!text.empty()) {
      const size_t newline = text.find('\n');
      append_chunks(text.substr(0, newline), lines);
      text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    }
  }
  return lines;
}

/// At most `limit` lines (0 = no limit), evenly spaced, in their order.
std::vector<std::string_view> evenly_spaced(std::vector<std::string_view> lines, int64_t limit) {
  if (limit <= 0 || lines.size() <= static_cast<size_t>(limit)) return lines;
  const size_t n = static_cast<size_t>(limit);
  std::vector<std::string_view> subset;
  subset.reserve(n);
  for (size_t i = 0; i < n; ++i) subset.push_back(lines[i * lines.size() / n]);
  return subset;
}

std::string exact_text(double value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

std::unordered_map<std::string, std::string> trainer_options(const TokenizerConfig& c) {
  return {{"model_type", c.model_type},
          {"vocab_size", std::to_string(c.vocab_size - kIdShift)},
          {"character_coverage", exact_text(c.character_coverage)},
          {"input_sentence_size", "0"},  // the lines are already subsampled, deterministically
          {"max_sentence_length", "4192"},
          {"hard_vocab_limit", "false"},  // vocab_size is an upper bound
          {"unk_id", "0"},
          {"bos_id", "-1"},
          {"eos_id", "-1"},
          {"pad_id", "-1"},
          {"num_threads", "2"},
          {"minloglevel", "2"}};  // errors only: SentencePiece logs to stderr itself
}

/// Our reading of a failed training: what to change, then SentencePiece's own words.
std::string training_failure(const std::string& message) {
  const std::string theirs = "(SentencePiece: " + message + ")";
  const auto vs = message.find(" vs ");  // "... smaller than required_chars. <have> vs <need>. ..."
  if (message.find("required_chars") == std::string::npos || vs == std::string::npos) return theirs;
  const int64_t needed = std::strtoll(message.c_str() + vs + 4, nullptr, 10) + kIdShift;
  return "too few ids for the characters character_coverage keeps: raise tokenizer.vocab_size" +
         (needed > kIdShift ? " to at least " + std::to_string(needed) : std::string()) +
         " or lower tokenizer.character_coverage " + theirs;
}

int64_t to_our_id(uint32_t piece_id) {
  return piece_id == 0 ? SpecialTokens::unk : static_cast<int64_t>(piece_id) + kIdShift;
}

/// SentencePiece's marker alone, standing for no text: its dummy prefix.
bool is_dummy_prefix(const Piece& piece) {
  return piece.empty_surface && piece.piece == kWordMarker;
}

/// The piece's id and span, without the whitespace its marker stands for.
Token token_of(std::string_view text, const Piece& piece) {
  size_t begin = piece.begin;
  const size_t end = piece.end;
  while (begin < end && is_ascii_space(text[begin])) ++begin;
  return {to_our_id(static_cast<uint32_t>(piece.id)), static_cast<int64_t>(begin), static_cast<int64_t>(end)};
}

}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer(std::string serialized_model, std::string model_type,
                                               const std::string& origin)
    : serialized_model_(std::move(serialized_model)),
      model_type_(std::move(model_type)) {
  if (model_type_ != "unigram" && model_type_ != "bpe")
    throw Error(origin + ": model_type must be \"unigram\" or \"bpe\", found \"" + model_type_ + "\"");
  try {
    model_ = spm::backend().load(serialized_model_);
  } catch (const std::exception& e) {
    if (dynamic_cast<const Error*>(&e)) throw;
    throw Error(origin + ": not a valid SentencePiece model (" + e.what() + ")");
  }
  const auto p = model_->info();
  if (p.unk_id != 0 || p.bos_id != -1 || p.eos_id != -1 || p.pad_id != -1)
    throw Error(origin + ": expected a SentencePiece model with unk_id 0 and no bos/eos/pad pieces, found unk_id " +
                std::to_string(p.unk_id) + ", bos_id " + std::to_string(p.bos_id) + ", eos_id " +
                std::to_string(p.eos_id) + ", pad_id " + std::to_string(p.pad_id));
  for (int id = 1; id < p.pieces; ++id)
    if (model_->is_control_or_unknown(id))
      throw Error(origin + ": unexpected control or unknown piece \"" + model_->id_to_piece(id) +
                  "\" at SentencePiece id " + std::to_string(id));
  pieces_ = p.pieces;
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::train(const TokenizerConfig& config,
                                                                      const std::vector<std::string>& texts) {
  validate_tokenizer_config(config, "tokenizer");
  const auto all_lines = training_lines(texts);
  if (all_lines.empty())
    throw Error("tokenizer: cannot train SentencePiece: the " + std::to_string(texts.size()) +
                " training texts hold no non-blank line");
  const auto lines = evenly_spaced(all_lines, config.max_training_sentences);
  std::string model;
  try {
    model = spm::backend().train(trainer_options(config), lines);
  } catch (const std::exception& e) {
    if (dynamic_cast<const Error*>(&e)) throw;
    throw Error("tokenizer: SentencePiece " + config.model_type + " training with vocab_size " +
                std::to_string(config.vocab_size) + " on " + std::to_string(lines.size()) + " lines failed: " +
                training_failure(e.what()));
  }
  auto tokenizer =
      std::make_unique<SentencePieceTokenizer>(std::move(model), config.model_type, "trained SentencePiece model");
  if (tokenizer->vocab_size() < config.vocab_size)
    util::log()->warn("tokenizer: the training text allows only {} of the {} ids asked for (vocab_size)",
                      tokenizer->vocab_size(), config.vocab_size);
  util::log()->info("sentencepiece tokenizer ({}): {} ids from {} lines", config.model_type,
                    tokenizer->vocab_size(), lines.size());
  return tokenizer;
}

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::load(const TokenizerFileReader& read,
                                                                     const std::string& where,
                                                                     const util::Json& json,
                                                                     const std::string& origin) {
  util::ObjectReader r(json, origin);
  std::string kind, model_file, model_type;
  r.require("kind", kind).require("model_file", model_file).require("model_type", model_type);
  r.finish();
  if (kind != "sentencepiece") throw Error(r.where("kind") + ": expected \"sentencepiece\", found \"" + kind + "\"");
  if (model_type != "unigram" && model_type != "bpe")
    throw Error(r.where("model_type") + ": expected one of {unigram, bpe}, found \"" + model_type + "\"");
  const std::filesystem::path name(model_file);
  if (model_file.empty() || name.has_parent_path() || name.is_absolute() || model_file == "." || model_file == "..")
    throw Error(r.where("model_file") + ": expected a file name in the same directory, found \"" + model_file + "\"");
  return std::make_unique<SentencePieceTokenizer>(read(model_file), std::move(model_type),
                                                  (std::filesystem::path(where) / name).string());
}

int64_t SentencePieceTokenizer::vocab_size() const { return pieces_ + kIdShift; }

std::vector<Token> SentencePieceTokenizer::tokenize(std::string_view text) const {
  std::vector<Token> tokens;
  if (text.empty()) return tokens;
  std::vector<Piece> encoded;
  try {
    encoded = model_->encode(text);
  } catch (const std::exception& e) {
    throw Error(std::string("sentencepiece tokenizer: cannot encode text: ") + e.what());
  }
  tokens.reserve(encoded.size());
  for (const auto& piece : encoded)
    if (!is_dummy_prefix(piece)) tokens.push_back(token_of(text, piece));
  return tokens;
}

std::string SentencePieceTokenizer::token_text(int64_t id) const {
  if (id < 0 || id >= vocab_size())
    throw Error("sentencepiece tokenizer: token id " + std::to_string(id) + " is outside [0, " +
                std::to_string(vocab_size()) + ")");
  if (id < SpecialTokens::count) return special_token_names()[static_cast<size_t>(id)];
  return model_->id_to_piece(static_cast<int>(id - kIdShift));
}

void SentencePieceTokenizer::save(const std::filesystem::path& dir) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error("cannot create directory " + dir.string() + ": " + ec.message());
  // The model first, so tokenizer.json never names a file that is not there.
  util::write_file_atomic(dir / kModelFile, serialized_model_);
  const util::Json json = {{"kind", kind()}, {"model_file", kModelFile}, {"model_type", model_type_}};
  util::write_file_atomic(dir / kTokenizerFile, json.dump(2) + "\n");
}

}  // namespace focus::data
