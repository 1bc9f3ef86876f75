#pragma once
// The Open Inference Protocol (KServe v2) JSON shapes focus-serve speaks:
// model metadata, inference requests with named tensor inputs (name, shape,
// datatype, data) and responses with tensor outputs. See
// https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/
#include <string>
#include <vector>

#include <torch/script.h>

#include "focus/deploy/script_model.h"
#include "focus/util/error.h"
#include "focus/util/json_reader.h"

namespace focus::deploy {

/// A bad request: answered with `status` and {"error": what()}.
class RequestError : public Error {
 public:
  RequestError(int status, const std::string& message) : Error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

/// One tensor of a model's signature; -1 in `shape` is any size.
struct TensorSpec {
  std::string name;
  std::string datatype;  ///< "FP32", "INT64", "BOOL", "BYTES"
  std::vector<int64_t> shape;
  bool optional = false;
};

/// forward()'s inputs: images FP32 [-1, C, H, W]; ids INT64 and mask BOOL
/// [-1, -1] (or [-1, -1, -1] for sentences); image + text: images, ids, mask
/// and an optional image_index INT64 [-1]. Text models also accept "text"
/// BYTES [-1] instead of ids and mask (tokenized by the server).
std::vector<TensorSpec> input_specs(const ScriptModel& model);
/// "logits" and "probabilities", FP32 [-1, classes] (classes -1 when unknown).
std::vector<TensorSpec> output_specs(const ScriptModel& model);

/// GET /v2/models/{name}: name, versions, platform, inputs, outputs (+ labels).
util::Json model_metadata(const std::string& name, const ScriptModel& model);

struct InferInput {
  std::string name;
  std::string datatype;
  std::vector<int64_t> shape;
  util::Json data;  ///< flat or nested, row-major
};
struct InferRequest {
  std::string id;
  std::vector<InferInput> inputs;
  std::vector<std::string> outputs;  ///< requested output names (empty = all)
};

/// A JSON body parsed with a nesting limit (deep nesting would exhaust the
/// stack of the code that walks it); RequestError(400) when invalid.
util::Json parse_request_json(const std::string& body);

/// Parses the body of POST /v2/models/{name}/infer. Throws RequestError(400)
/// for invalid JSON or a field of the wrong type.
InferRequest parse_infer_request(const std::string& body);

/// forward()'s arguments for a parsed request, on the model's device. Throws
/// RequestError(400) for a missing or unknown input, a wrong datatype, a shape
/// that does not fit the model, or data whose length is not the shape's.
std::vector<torch::jit::IValue> request_inputs(const InferRequest& request, const ScriptModel& model);

/// The response body for logits [B, K]: "logits" and "probabilities" (or the
/// requested ones; an unknown name is RequestError(400)).
util::Json infer_response(const std::string& model_name, const InferRequest& request, const torch::Tensor& logits);

}  // namespace focus::deploy
