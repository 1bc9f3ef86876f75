#include "focus/explain/evaluate_heatmaps.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>

#include <opencv2/imgcodecs.hpp>

#include "focus/data/multimodal_batch_source.h"
#include "focus/explain/heatmap_image.h"
#include "focus/explain/question_explainer.h"
#include "focus/explain/split_examples.h"
#include "focus/explain/text_explainer.h"
#include "focus/train/text_task.h"
#include "focus/util/atomic_file.h"
#include "focus/util/error.h"
#include "focus/util/runtime.h"

namespace focus::explain {
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kSeed = 20180612;  // seeds the random orders and points: example i uses kSeed + i

struct Accumulator {
  MethodScore score;
  void add(const FaithfulnessCurves& c) {
    ++score.examples;
    score.deletion_auc += c.deletion_auc;
    score.insertion_auc += c.insertion_auc;
  }
  void add_point(bool hit) {
    ++score.examples;
    score.hits += hit ? 1 : 0;
  }
  MethodScore mean() const {
    MethodScore s = score;
    if (s.examples > 0) {
      s.deletion_auc /= static_cast<double>(s.examples);
      s.insertion_auc /= static_cast<double>(s.examples);
      s.hit_rate = static_cast<double>(s.hits) / static_cast<double>(s.examples);
    }
    return s;
  }
};

util::Json curve_json(const FaithfulnessCurves& c) {
  return {{"deletion_auc", c.deletion_auc}, {"insertion_auc", c.insertion_auc}};
}

/// Deletion/insertion areas per method, over all examples and per predicted class
/// (removing evidence drives a text towards what the model says of an empty
/// text, so the classes can differ a lot).
struct CurveScores {
  std::map<std::string, Accumulator> all;
  std::map<std::string, std::map<std::string, Accumulator>> by_class;
  void add(const std::string& method, const std::string& map, const std::string& predicted,
           const FaithfulnessCurves& curves, util::Json& record) {
    all[method].score.map = map;
    all[method].add(curves);
    by_class[predicted][method].score.map = map;
    by_class[predicted][method].add(curves);
    record[method] = curve_json(curves);
  }
  /// {"class": [{"method", "examples", "deletion_auc", "insertion_auc"}, ...]}
  util::Json by_class_json(const std::vector<std::string>& names) {
    util::Json out = util::Json::object();
    for (auto& [cls, methods] : by_class) {
      util::Json rows = util::Json::array();
      for (const auto& n : names) {
        const auto m = methods[n].mean();
        rows.push_back({{"method", n}, {"examples", m.examples}, {"deletion_auc", m.deletion_auc},
                        {"insertion_auc", m.insertion_auc}});
      }
      out[cls] = rows;
    }
    return out;
  }
};

/// The text map that stands for a method in the scores: the attention-pool
/// head (else HAN's word x sentence weights, else the last layer's mean of
/// heads) for attention; the single map of the others.
const TextMap& scored_map(const TextExplanation& e, const std::string& method) {
  const TextMap* chosen = nullptr;
  for (const auto& m : e.maps) {
    if (m.method != method) continue;
    if (m.name == "attention-pool head" || m.name == "word x sentence") return m;
    if (method != "attention" || m.name.find("mean of heads") != std::string::npos) chosen = &m;
  }
  if (!chosen) throw Error("no " + method + " map was computed");
  return *chosen;
}

std::string format_table(const FaithfulnessReport& r) {
  std::string out;
  char line[256];
  if (r.kind == "pointing_game") {
    std::snprintf(line, sizeof line, "%-14s %-44s %9s %6s %9s\n", "method", "map", "questions", "hits", "hit rate");
    out += line;
    for (const auto& s : r.scores) {
      std::snprintf(line, sizeof line, "%-14s %-44s %9ld %6ld %8.1f%%\n", s.method.c_str(), s.map.c_str(),
                    static_cast<long>(s.examples), static_cast<long>(s.hits), 100 * s.hit_rate);
      out += line;
    }
    return out;
  }
  double random_deletion = 0;
  for (const auto& s : r.scores)
    if (s.method == "random") random_deletion = s.deletion_auc;
  std::snprintf(line, sizeof line, "%-14s %-30s %8s %13s %14s %19s\n", "method", "map", "examples", "deletion AUC",
                "insertion AUC", "deletion vs random");
  out += line;
  for (const auto& s : r.scores) {
    const double rel = random_deletion > 0 ? 100.0 * (s.deletion_auc / random_deletion - 1.0) : 0.0;
    std::snprintf(line, sizeof line, "%-14s %-30s %8ld %13.4f %14.4f %18.1f%%\n", s.method.c_str(), s.map.c_str(),
                  static_cast<long>(s.examples), s.deletion_auc, s.insertion_auc, rel);
    out += line;
  }
  return out;
}

FaithfulnessReport finish(FaithfulnessReport report, const HeatmapRequest& request, util::Json header,
                          util::Json examples, const FaithfulnessOptions& o) {
  const fs::path out_dir = request.out.empty() ? fs::path(request.run) / "heatmaps" : fs::path(request.out);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw Error(out_dir.string() + ": cannot create directory: " + ec.message());
  util::Json scores = util::Json::array();
  for (const auto& s : report.scores) {
    util::Json j = {{"method", s.method}, {"map", s.map}, {"examples", s.examples}};
    if (report.kind == "pointing_game") {
      j["hits"] = s.hits;
      j["hit_rate"] = s.hit_rate;
    } else {
      j["deletion_auc"] = s.deletion_auc;
      j["insertion_auc"] = s.insertion_auc;
    }
    scores.push_back(j);
  }
  header["kind"] = report.kind;
  header["run"] = request.run;
  header["split"] = request.split;
  header["first"] = request.first;
  header["steps"] = o.steps;
  header["seed"] = kSeed;
  header["scores"] = scores;
  header["examples"] = std::move(examples);
  report.json_path = (out_dir / "faithfulness.json").string();
  util::write_file_atomic(report.json_path, header.dump(2) + "\n");
  report.table = format_table(report);
  return report;
}

/// The mean scores of `names`, in that order.
std::vector<MethodScore> means(const std::vector<std::string>& names, std::map<std::string, Accumulator>& acc) {
  std::vector<MethodScore> out;
  for (const auto& n : names) {
    out.push_back(acc[n].mean());
    out.back().method = n;
  }
  return out;
}

std::vector<std::string> with_baselines(std::vector<std::string> methods, std::initializer_list<const char*> baselines) {
  methods.insert(methods.end(), baselines.begin(), baselines.end());
  return methods;
}

FaithfulnessReport evaluate_images(const HeatmapRequest& request, const train::TrainedRun& run, const std::string& arch,
                                   const std::vector<std::string>& methods, const torch::Device& device,
                                   const FaithfulnessOptions& o) {
  CurveScores scores;
  util::Json examples = util::Json::array();
  // Removed pixels become black, as in Petsiuk et al.: -mean / std after normalisation.
  std::vector<float> black_values;
  for (size_t c = 0; c < run.normalization.mean.size(); ++c)
    black_values.push_back(static_cast<float>(-run.normalization.mean[c] / run.normalization.std[c]));
  const auto black = torch::tensor(black_values);
  for_each_example(run, request.split, request.first, request.limit, device, [&](const SplitExample& e) {
    auto probs = example_probabilities(*run.model, e.batch)[0];
    const int64_t target = probs.argmax().item<int64_t>();
    const auto& image = e.batch.inputs[0];
    const int64_t h = image.size(1), w = image.size(2);
    auto probability = image_units(
        [&run](const torch::Tensor& images) {
          data::Batch b;
          b.inputs = images;
          return torch::softmax(run.model->forward(b), 1);
        },
        image, target, black);
    const auto& predicted = run.class_names.at(static_cast<size_t>(target));
    util::Json record = {{"index", e.index}, {"label", run.class_names.at(static_cast<size_t>(e.label))},
                         {"predicted", predicted}};
    for (const auto& method : methods) {
      auto m = explain_image(*run.model, arch, e.batch, method, target, request.options);
      auto map = resize_map(m.map.to(torch::kCPU).to(torch::kFloat), h, w);
      scores.add(method, m.source, predicted, deletion_insertion(probability, salience_order(map), o), record);
    }
    scores.add("random", "random pixel order", predicted,
               deletion_insertion(probability, random_order(h * w, kSeed + static_cast<uint64_t>(e.index)), o), record);
    examples.push_back(std::move(record));
  });
  const auto names = with_baselines(methods, {"random"});
  FaithfulnessReport report{"deletion_insertion", means(names, scores.all), "", ""};
  return finish(std::move(report), request,
                {{"arch", arch}, {"units", "pixels"}, {"removed_pixels", "black"},
                 {"by_predicted_class", scores.by_class_json(names)}},
                std::move(examples), o);
}

FaithfulnessReport evaluate_texts(const HeatmapRequest& request, const train::TrainedRun& run, const std::string& arch,
                                  const std::vector<std::string>& methods, const torch::Device& device,
                                  const FaithfulnessOptions& o) {
  const auto split = train::text_split(run, request.split);
  const auto size = static_cast<int64_t>(split.examples.size());
  if (request.first >= size)
    throw Error("--first " + std::to_string(request.first) + ": the " + request.split + " split has " +
                std::to_string(size) + " examples");
  const auto encoding = train::text_encoding(run.recipe);
  CurveScores scores;
  util::Json examples = util::Json::array();
  int64_t without_tokens = 0;
  const int64_t end = request.first + std::min(request.limit, size - request.first);
  for (int64_t i = request.first; i < end; ++i) {
    const auto& text = split.examples[static_cast<size_t>(i)].text;
    auto e = explain_text(*run.model, arch, *run.tokenizer, text, encoding, methods, -1, device, request.options.rollout);
    if (e.tokens.empty()) {
      ++without_tokens;
      continue;
    }
    const auto encoded = data::encode_text(*run.tokenizer, text, encoding);
    const auto batch = text_batch(encoded, encoding.layout).to(device);
    auto slots = torch::tensor(token_slots(encoded, encoding.layout), torch::kLong).to(device);
    const int64_t target = e.predicted;
    auto probability = [&](const torch::Tensor& keep) {
      return masked_text_probability(*run.model, batch, slots, keep, target);
    };
    const auto& predicted = run.class_names.at(static_cast<size_t>(target));
    util::Json record = {{"index", i}, {"line", split.examples[static_cast<size_t>(i)].line},
                         {"label", split.examples[static_cast<size_t>(i)].label}, {"predicted", predicted},
                         {"tokens", e.tokens.size()}};
    for (const auto& method : methods) {
      const auto& map = scored_map(e, method);
      scores.add(method, map.name, predicted, deletion_insertion(probability, salience_order(torch::tensor(map.weights)), o),
                 record);
    }
    const auto units = static_cast<int64_t>(e.tokens.size());
    scores.add("random", "random token order", predicted,
               deletion_insertion(probability, random_order(units, kSeed + static_cast<uint64_t>(i)), o), record);
    examples.push_back(std::move(record));
  }
  if (examples.empty()) throw Error("none of the examples has tokens to remove");
  const auto names = with_baselines(methods, {"random"});
  FaithfulnessReport report{"deletion_insertion", means(names, scores.all), "", ""};
  return finish(std::move(report), request,
                {{"arch", arch}, {"units", "tokens"}, {"skipped_without_tokens", without_tokens},
                 {"by_predicted_class", scores.by_class_json(names)}},
                std::move(examples), o);
}

/// The manifest's records by line (1-based), read once.
std::vector<std::string> manifest_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the manifest");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(std::move(line));
  return lines;
}

/// The box [x0, y0, x1, y1] of the single object the record's question refers
/// to, or nothing when it refers to none or several.
std::optional<std::array<double, 4>> referred_box(const std::string& record, const std::string& where) {
  util::Json j;
  try {
    j = util::Json::parse(record);
  } catch (const std::exception& e) {
    throw Error(where + ": invalid JSON: " + e.what());
  }
  auto objects = j.find("objects");
  if (objects == j.end() || !objects->is_array())
    throw Error(where + ": no \"objects\" array: the pointing game needs each object's \"box\" [x0, y0, x1, y1] and "
                "whether the question refers to it (\"referred\"), as focus-data sort-of-clevr writes");
  std::optional<std::array<double, 4>> found;
  int referred = 0;
  for (const auto& obj : *objects) {
    if (!obj.is_object() || !obj.value("referred", false)) continue;
    ++referred;
    auto box = obj.find("box");
    if (box == obj.end() || !box->is_array() || box->size() != 4)
      throw Error(where + ": a referred object without a \"box\" [x0, y0, x1, y1]");
    std::array<double, 4> b{};
    for (size_t k = 0; k < 4; ++k) {
      if (!(*box)[k].is_number()) throw Error(where + ": box coordinates must be numbers");
      b[k] = (*box)[k].get<double>();
    }
    found = b;
  }
  if (referred != 1) return std::nullopt;
  return found;
}

bool inside(const std::array<double, 4>& box, double x, double y) {
  return x >= box[0] && x <= box[2] && y >= box[1] && y <= box[3];
}

FaithfulnessReport evaluate_questions(const HeatmapRequest& request, const train::TrainedRun& run,
                                      const std::string& fusion, const std::vector<std::string>& methods,
                                      const torch::Device& device, const FaithfulnessOptions& o) {
  std::map<std::string, Accumulator> acc;
  util::Json examples = util::Json::array();
  std::vector<std::string> lines;
  std::string origin;
  double area_fraction = 0;
  int64_t skipped = 0;
  const int64_t resized = run.recipe.multimodal_data.image_size;
  auto walk = for_each_example(run, request.split, request.first, request.limit, device, [&](const SplitExample& e) {
    if (lines.empty()) {
      origin = e.origin;
      lines = manifest_lines(origin);
    }
    const std::string where = origin + ":" + std::to_string(e.line);
    if (e.line < 1 || e.line > static_cast<int64_t>(lines.size())) throw Error(where + ": no such line");
    auto box = referred_box(lines[static_cast<size_t>(e.line - 1)], where);
    if (!box) {
      ++skipped;
      return;
    }
    const auto& image = e.batch.extra.at(data::kBatchImages);
    const int64_t h = image.size(2), w = image.size(3);
    if (resized > 0) {  // boxes are in the original image's pixels
      auto record = util::Json::parse(lines[static_cast<size_t>(e.line - 1)]);
      const auto path = (fs::path(origin).parent_path() / record.value("image", std::string())).string();
      cv::Mat original = cv::imread(path, cv::IMREAD_UNCHANGED);
      if (original.empty()) throw Error(where + ": cannot read " + path + " for its size");
      const double sx = static_cast<double>(w) / original.cols, sy = static_cast<double>(h) / original.rows;
      *box = {(*box)[0] * sx, (*box)[1] * sy, (*box)[2] * sx, (*box)[3] * sy};
    }
    area_fraction += ((*box)[2] - (*box)[0] + 1) * ((*box)[3] - (*box)[1] + 1) / static_cast<double>(h * w);
    auto probs = example_probabilities(*run.model, e.batch)[0];
    const int64_t target = probs.argmax().item<int64_t>();
    util::Json record = {{"index", e.index}, {"line", e.line}, {"question", e.text},
                         {"box", *box}, {"predicted", run.class_names.at(static_cast<size_t>(target))},
                         {"correct", target == e.label}};
    for (const auto& method : methods) {
      auto m = explain_question(*run.model, fusion, e.batch, method, target, request.options);
      auto map = resize_map(m.map.to(torch::kCPU).to(torch::kFloat), h, w);
      const int64_t at = map.argmax().item<int64_t>();
      const double y = static_cast<double>(at / w), x = static_cast<double>(at % w);
      const bool hit = inside(*box, x, y);
      acc[method].score.map = m.source;
      acc[method].add_point(hit);
      record[method] = {{"point", {x, y}}, {"hit", hit}};
    }
    const bool center_hit = inside(*box, (w - 1) / 2.0, (h - 1) / 2.0);
    acc["center"].score.map = "the image centre";
    acc["center"].add_point(center_hit);
    std::mt19937_64 rng(kSeed + static_cast<uint64_t>(e.index));
    std::uniform_int_distribution<int64_t> px(0, w - 1), py(0, h - 1);
    const double rx = static_cast<double>(px(rng)), ry = static_cast<double>(py(rng));
    acc["random"].score.map = "a uniformly random pixel";
    acc["random"].add_point(inside(*box, rx, ry));
    record["center"] = {{"hit", center_hit}};
    examples.push_back(std::move(record));
  });
  if (examples.empty())
    throw Error("none of the " + std::to_string(std::min(request.limit, walk.size - request.first)) +
                " questions refers to exactly one object: the pointing game has nothing to score");
  FaithfulnessReport report{"pointing_game", means(with_baselines(methods, {"center", "random"}), acc), "", ""};
  const double chance = area_fraction / static_cast<double>(examples.size());
  return finish(std::move(report), request,
                {{"fusion", fusion}, {"manifest", origin}, {"skipped_not_single_object", skipped},
                 {"mean_box_area_fraction", chance}},
                std::move(examples), o);
}

}  // namespace

FaithfulnessReport evaluate_heatmaps(const HeatmapRequest& request, const FaithfulnessOptions& options) {
  if (request.limit < 1 || request.first < 0) throw Error("--limit must be >= 1 and --first >= 0");
  if (!request.target.empty())
    throw Error("--evaluate scores the maps of the predicted class; --class does not apply");
  const torch::Device device = util::resolve_device(request.device);
  auto run = train::load_trained_run(request.run, request.checkpoint, device);
  if (run.recipe.task == train::kMaskedLm)
    throw Error(request.run + " is a masked-LM pretraining run, not a classifier: there is no prediction to explain");
  const std::string kind = model_kind(run);
  if (run.recipe.is_text()) {
    return evaluate_texts(request, run, kind, checked_methods(request.methods, text_methods(kind), kind), device,
                          options);
  }
  if (run.recipe.task == train::kMultimodalClassification)
    return evaluate_questions(request, run, kind, checked_methods(request.methods, question_methods(kind), kind), device,
                              options);
  return evaluate_images(request, run, kind, checked_methods(request.methods, image_methods(kind), kind), device, options);
}

}  // namespace focus::explain
