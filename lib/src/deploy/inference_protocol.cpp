#include "focus/deploy/inference_protocol.h"

#include <functional>

#include "focus/deploy/model_inputs.h"

namespace focus::deploy {

namespace {

using models::InputKind;

RequestError bad(const std::string& message) { return RequestError(400, message); }

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// Appends the leaves of a (possibly nested) JSON array, row-major.
void flatten(const util::Json& v, std::vector<const util::Json*>& out) {
  if (v.is_array()) {
    for (const auto& item : v) flatten(item, out);
  } else {
    out.push_back(&v);
  }
}

torch::Tensor tensor_of(const InferInput& in, const TensorSpec& spec) {
  const std::string where = "input '" + in.name + "'";
  if (in.shape.size() != spec.shape.size())
    throw bad(where + ": shape " + shape_text(in.shape) + " has " + std::to_string(in.shape.size()) +
              " dimensions, the model expects " + shape_text(spec.shape));
  int64_t count = 1;
  for (size_t d = 0; d < in.shape.size(); ++d) {
    if (in.shape[d] < 0) throw bad(where + ": negative size in shape " + shape_text(in.shape));
    if (spec.shape[d] >= 0 && in.shape[d] != spec.shape[d])
      throw bad(where + ": shape " + shape_text(in.shape) + " does not fit the model's " + shape_text(spec.shape));
    count *= in.shape[d];
  }
  if (in.shape.empty() || in.shape[0] == 0) throw bad(where + ": the batch is empty");
  std::vector<const util::Json*> leaves;
  flatten(in.data, leaves);
  if (static_cast<int64_t>(leaves.size()) != count)
    throw bad(where + ": " + std::to_string(leaves.size()) + " values for shape " + shape_text(in.shape) + " (" +
              std::to_string(count) + " expected)");
  const bool floating = in.datatype == "FP32" || in.datatype == "FP64" || in.datatype == "FP16";
  const bool integral = in.datatype == "INT64" || in.datatype == "INT32" || in.datatype == "INT16" ||
                        in.datatype == "INT8" || in.datatype == "UINT8";
  if (spec.datatype == "FP32" && !floating)
    throw bad(where + ": datatype " + in.datatype + ", expected FP32 (or FP64/FP16)");
  if (spec.datatype == "INT64" && !integral) throw bad(where + ": datatype " + in.datatype + ", expected INT64 (or a narrower integer)");
  if (spec.datatype == "BOOL" && in.datatype != "BOOL" && !integral)
    throw bad(where + ": datatype " + in.datatype + ", expected BOOL");
  if (spec.datatype == "FP32") {
    auto t = torch::empty({count}, torch::kFloat);
    auto* p = t.data_ptr<float>();
    for (int64_t i = 0; i < count; ++i) {
      if (!leaves[static_cast<size_t>(i)]->is_number()) throw bad(where + ": value " + std::to_string(i) + " is not a number");
      p[i] = leaves[static_cast<size_t>(i)]->get<float>();
    }
    return t.view(in.shape);
  }
  auto t = torch::empty({count}, torch::kLong);
  auto* p = t.data_ptr<int64_t>();
  for (int64_t i = 0; i < count; ++i) {
    const auto& v = *leaves[static_cast<size_t>(i)];
    if (v.is_boolean()) p[i] = v.get<bool>() ? 1 : 0;
    else if (v.is_number_integer()) p[i] = v.get<int64_t>();
    else throw bad(where + ": value " + std::to_string(i) + " is not " + (spec.datatype == "BOOL" ? "a boolean" : "an integer"));
  }
  t = t.view(in.shape);
  return spec.datatype == "BOOL" ? t.ne(0) : t;
}

const InferInput* find_input(const InferRequest& r, const std::string& name) {
  for (const auto& in : r.inputs)
    if (in.name == name) return &in;
  return nullptr;
}

}  // namespace

std::vector<TensorSpec> input_specs(const ScriptModel& model) {
  const auto& m = model.metadata();
  const TensorSpec images{"images", "FP32", {-1, m.channels, m.height, m.width}};
  switch (m.input) {
    case InputKind::images: return {images};
    case InputKind::tokens: return {{"ids", "INT64", {-1, -1}}, {"mask", "BOOL", {-1, -1}}, {"text", "BYTES", {-1}, true}};
    case InputKind::sentences:
      return {{"ids", "INT64", {-1, -1, -1}}, {"mask", "BOOL", {-1, -1, -1}}, {"text", "BYTES", {-1}, true}};
    case InputKind::image_text:
      return {{"images", "FP32", {-1, m.channels, m.height, m.width}},
              {"ids", "INT64", {-1, -1}},
              {"mask", "BOOL", {-1, -1}},
              {"image_index", "INT64", {-1}, true}};
  }
  return {};
}

std::vector<TensorSpec> output_specs(const ScriptModel& model) {
  const auto k = model.metadata().class_names.empty() ? -1 : static_cast<int64_t>(model.metadata().class_names.size());
  return {{"logits", "FP32", {-1, k}}, {"probabilities", "FP32", {-1, k}}};
}

util::Json model_metadata(const std::string& name, const ScriptModel& model) {
  auto specs = [](const std::vector<TensorSpec>& list) {
    util::Json out = util::Json::array();
    for (const auto& s : list) {
      util::Json j = {{"name", s.name}, {"datatype", s.datatype}, {"shape", s.shape}};
      if (s.optional) j["optional"] = true;
      out.push_back(j);
    }
    return out;
  };
  util::Json j = {{"name", name},
                  {"versions", {"1"}},
                  {"platform", "pytorch_torchscript"},
                  {"inputs", specs(input_specs(model))},
                  {"outputs", specs(output_specs(model))}};
  const auto& m = model.metadata();
  j["parameters"] = {{"focus", model.from_focus()}, {"arch", m.arch}, {"labels", m.class_names}};
  return j;
}

util::Json parse_request_json(const std::string& body) {
  constexpr int kMaxDepth = 32;
  try {
    return util::Json::parse(body, [](int depth, util::Json::parse_event_t, util::Json&) {
      if (depth > kMaxDepth) throw bad("JSON nested more than " + std::to_string(kMaxDepth) + " levels deep");
      return true;
    });
  } catch (const RequestError&) {
    throw;
  } catch (const std::exception& e) {
    throw bad(std::string("invalid JSON: ") + e.what());
  }
}

InferRequest parse_infer_request(const std::string& body) {
  const util::Json json = parse_request_json(body);
  if (!json.is_object()) throw bad("the request must be a JSON object with an 'inputs' array");
  InferRequest r;
  if (json.contains("id")) {
    if (!json["id"].is_string()) throw bad("'id' must be a string");
    r.id = json["id"].get<std::string>();
  }
  if (!json.contains("inputs") || !json["inputs"].is_array() || json["inputs"].empty())
    throw bad("the request needs a non-empty 'inputs' array");
  for (size_t i = 0; i < json["inputs"].size(); ++i) {
    const auto& in = json["inputs"][i];
    const std::string where = "inputs[" + std::to_string(i) + "]";
    if (!in.is_object()) throw bad(where + " must be an object");
    for (const char* key : {"name", "datatype"})
      if (!in.contains(key) || !in[key].is_string()) throw bad(where + "." + key + " must be a string");
    if (!in.contains("shape") || !in["shape"].is_array()) throw bad(where + ".shape must be an array of integers");
    if (!in.contains("data")) throw bad(where + " has no 'data'");
    InferInput x;
    x.name = in["name"].get<std::string>();
    x.datatype = in["datatype"].get<std::string>();
    for (const auto& d : in["shape"]) {
      if (!d.is_number_integer()) throw bad(where + ".shape must be an array of integers");
      x.shape.push_back(d.get<int64_t>());
    }
    x.data = in["data"];
    if (find_input(r, x.name)) throw bad("input '" + x.name + "' appears twice");
    r.inputs.push_back(std::move(x));
  }
  if (json.contains("outputs")) {
    if (!json["outputs"].is_array()) throw bad("'outputs' must be an array");
    for (const auto& o : json["outputs"]) {
      if (!o.is_object() || !o.contains("name") || !o["name"].is_string()) throw bad("each output needs a 'name' string");
      r.outputs.push_back(o["name"].get<std::string>());
    }
  }
  return r;
}

std::vector<torch::jit::IValue> request_inputs(const InferRequest& request, const ScriptModel& model) {
  const auto specs = input_specs(model);
  const auto& device = model.device();
  for (const auto& in : request.inputs) {
    bool known = false;
    for (const auto& s : specs) known = known || s.name == in.name;
    // A model without Focus metadata has a single input: any name is accepted for it.
    if (!known && !(model.metadata().arch.empty() && request.inputs.size() == 1)) {
      std::string names;
      for (const auto& s : specs) names += (names.empty() ? "" : ", ") + s.name;
      throw bad("unknown input '" + in.name + "' (the model takes: " + names + ")");
    }
  }
  // Texts, tokenized here.
  if (const auto* text = find_input(request, "text")) {
    if (find_input(request, "ids") || find_input(request, "mask")) throw bad("give either 'text' or 'ids' and 'mask', not both");
    if (text->datatype != "BYTES") throw bad("input 'text': datatype " + text->datatype + ", expected BYTES");
    std::vector<const util::Json*> leaves;
    flatten(text->data, leaves);
    if (text->shape.size() != 1 || text->shape[0] != static_cast<int64_t>(leaves.size()) || leaves.empty())
      throw bad("input 'text': shape must be [number of texts]");
    std::vector<RawExample> examples;
    for (const auto* leaf : leaves) {
      if (!leaf->is_string()) throw bad("input 'text': every value must be a string");
      examples.push_back({"text", "", leaf->get<std::string>(), ""});
    }
    return make_inputs(model, examples);
  }
  std::vector<torch::jit::IValue> out;
  for (const auto& spec : specs) {
    if (spec.datatype == "BYTES") continue;
    const InferInput* in = find_input(request, spec.name);
    if (!in && model.metadata().arch.empty() && request.inputs.size() == 1) in = &request.inputs[0];
    if (!in) {
      if (spec.optional) continue;
      throw bad("missing input '" + spec.name + "' (" + spec.datatype + " " + shape_text(spec.shape) + ")");
    }
    out.emplace_back(tensor_of(*in, spec).to(device));
  }
  const auto& m = model.metadata();
  if (m.input != InputKind::images) {
    const auto ids = out[m.input == InputKind::image_text ? 1 : 0].toTensor();
    const auto mask = out[m.input == InputKind::image_text ? 2 : 1].toTensor();
    if (ids.sizes() != mask.sizes()) throw bad("inputs 'ids' and 'mask' must have the same shape");
    if (ids.numel() > 0 && (ids.min().item<int64_t>() < 0 || (model.from_focus() && ids.max().item<int64_t>() >= model.tokenizer().vocab_size())))
      throw bad("input 'ids': token ids must be in [0, " + std::to_string(model.tokenizer().vocab_size()) + ")");
    if (m.input == InputKind::tokens || m.input == InputKind::image_text) {
      if (ids.size(1) > m.text.max_length)
        throw bad("input 'ids': " + std::to_string(ids.size(1)) + " tokens, the model reads at most " +
                  std::to_string(m.text.max_length));
    }
    if (m.input == InputKind::image_text) {
      const auto images = out[0].toTensor().size(0);
      if (out.size() > 3) {
        const auto index = out[3].toTensor();
        if (index.size(0) != ids.size(0)) throw bad("input 'image_index': one entry per question");
        if (index.min().item<int64_t>() < 0 || index.max().item<int64_t>() >= images)
          throw bad("input 'image_index': values must be in [0, " + std::to_string(images) + ")");
      } else if (images != ids.size(0)) {
        throw bad("without 'image_index', give one image per question (" + std::to_string(images) + " images, " +
                  std::to_string(ids.size(0)) + " questions)");
      }
    }
  }
  return out;
}

util::Json infer_response(const std::string& model_name, const InferRequest& request, const torch::Tensor& logits) {
  const auto cpu = logits.to(torch::kCPU).to(torch::kFloat).contiguous();
  const auto probabilities = torch::softmax(cpu, 1).contiguous();
  auto output = [&](const std::string& name, const torch::Tensor& t) {
    const auto* p = t.data_ptr<float>();
    return util::Json{{"name", name},
                      {"datatype", "FP32"},
                      {"shape", {t.size(0), t.size(1)}},
                      {"data", std::vector<float>(p, p + t.numel())}};
  };
  util::Json outputs = util::Json::array();
  std::vector<std::string> names = request.outputs.empty() ? std::vector<std::string>{"logits", "probabilities"} : request.outputs;
  for (const auto& name : names) {
    if (name == "logits") outputs.push_back(output(name, cpu));
    else if (name == "probabilities") outputs.push_back(output(name, probabilities));
    else throw bad("unknown output '" + name + "' (the model has: logits, probabilities)");
  }
  util::Json j = {{"model_name", model_name}, {"model_version", "1"}, {"outputs", outputs}};
  if (!request.id.empty()) j["id"] = request.id;
  return j;
}

}  // namespace focus::deploy
