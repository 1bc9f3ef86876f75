#pragma once
// focus-serve's HTTP server: the Open Inference Protocol v2 endpoints for one
// or more TorchScript models, a classify endpoint for an uploaded image or a
// text (with an optional heatmap), Prometheus /metrics, bearer-token auth,
// body-size and request-time limits, dynamic batching per model, and a
// graceful stop (no new connections; in-flight requests are answered).
//
//   GET  /v2/health/live, /v2/health/ready, /v2      (no token needed for health)
//   GET  /v2/models/{name}, /v2/models/{name}/ready
//   POST /v2/models/{name}/infer                      tensors in, logits/probabilities out
//   POST /v2/models/{name}/classify                   JSON {"text", "image" (base64), "top_k",
//                                                     "heatmap": "png"|"weights"} or multipart
//                                                     (file "image", fields "text", "top_k", "heatmap")
//   GET  /metrics
// Every error is a 4xx/5xx with {"error": "..."}.
#include <memory>
#include <string>
#include <vector>

#include "focus/deploy/dynamic_batcher.h"
#include "focus/deploy/script_model.h"

namespace focus::deploy {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                          ///< 0 = any free port (see Server::port())
  std::string token;                        ///< when set: "Authorization: Bearer <token>" on all but health
  size_t max_body_bytes = 16u << 20;        ///< larger bodies get 413
  double request_timeout_s = 30;            ///< socket read/write timeout, and longest wait for a forward call (504)
  int http_threads = 64;                    ///< connections handled at once
  /// Bodies at least this large are handled one at a time (their JSON is parsed
  /// into a document many times their size), and free memory is returned to the
  /// kernel after each; others wait for their turn up to the request timeout (503).
  size_t large_body_bytes = 1u << 20;
  BatchingOptions batching;
};

struct ServedModel {
  std::string name;
  std::shared_ptr<const ScriptModel> model;
};

class Server {
 public:
  /// Throws focus::Error for no models, duplicate or invalid names.
  Server(std::vector<ServedModel> models, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds the listening socket; returns the port. Throws focus::Error when it cannot.
  int bind();
  /// Serves until stop(); returns once in-flight requests are answered and the
  /// batchers have drained.
  void serve();
  /// Stops accepting connections and makes serve() return. Thread-safe.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace focus::deploy
