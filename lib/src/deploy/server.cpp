#include "focus/deploy/server.h"

#include <httplib.h>

#include <chrono>
#include <map>
#include <mutex>
#include <regex>

#include "focus/deploy/inference_protocol.h"
#include "focus/deploy/model_inputs.h"
#include "focus/deploy/quick_heatmap.h"
#include "focus/deploy/serve_metrics.h"
#include "focus/util/base64.h"
#include "focus/util/log.h"
#include "focus/util/runtime.h"

namespace focus::deploy {

namespace {

using Clock = std::chrono::steady_clock;

void send_json(httplib::Response& res, int status, const util::Json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, util::Json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, {{"error", message}});
}

bool same_secret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

/// Whether a TCP connection to host:port succeeds (0.0.0.0 is checked on 127.0.0.1).
bool port_answers(const std::string& host, int port) {
  httplib::Client client(host == "0.0.0.0" ? "127.0.0.1" : host, port);
  client.set_connection_timeout(0, 200000);
  return static_cast<bool>(client.Get("/v2/health/live"));
}

int64_t parse_top_k(const std::string& text) {
  try {
    size_t used = 0;
    const long long v = std::stoll(text, &used);
    if (used == text.size() && v >= 1 && v <= 1000) return v;
  } catch (const std::exception&) {
  }
  throw RequestError(400, "'top_k' must be an integer in [1, 1000], got \"" + text + "\"");
}

}  // namespace

struct Server::Impl {
  struct Entry {
    std::shared_ptr<const ScriptModel> model;
    std::unique_ptr<DynamicBatcher> batcher;
    /// Heatmap requests run forward_with_attention outside the batcher: one at a
    /// time per model, waiting at most the request timeout.
    std::unique_ptr<std::timed_mutex> heatmap_lock = std::make_unique<std::timed_mutex>();
  };

  ServerOptions options;
  std::map<std::string, Entry> models;
  std::unique_ptr<ServeMetrics> metrics;
  httplib::Server http;
  std::atomic<bool> stopping{false};
  std::timed_mutex large_body_lock;  ///< see ServerOptions::large_body_bytes

  Entry& entry(const std::string& name) {
    auto it = models.find(name);
    if (it == models.end()) throw RequestError(404, "unknown model '" + name + "'");
    return it->second;
  }

  /// Runs a handler: checks the token (after httplib has read the body, so a
  /// refused POST leaves the connection in step), turns errors into JSON
  /// answers and counts every request.
  void handle(const httplib::Request& req, const std::string& model, httplib::Response& res,
              const std::function<void()>& body, bool needs_token = true) {
    const auto start = Clock::now();
    size_t body_bytes = req.body.size();  // multipart uploads are held in req.files instead
    for (const auto& part : req.files) body_bytes += part.second.content.size();
    std::unique_lock<std::timed_mutex> large_turn(large_body_lock, std::defer_lock);
    try {
      if (needs_token && !options.token.empty() &&
          !same_secret(req.get_header_value("Authorization"), "Bearer " + options.token)) {
        res.set_header("WWW-Authenticate", "Bearer");
        throw RequestError(401, req.has_header("Authorization") ? "wrong bearer token"
                                                                : "missing bearer token (Authorization: Bearer <token>)");
      }
      if (body_bytes >= options.large_body_bytes &&
          !large_turn.try_lock_for(std::chrono::duration<double>(options.request_timeout_s)))
        throw RequestError(503, "busy with other large requests; retry later");
      body();
    } catch (const RequestError& e) {
      send_error(res, e.status(), e.what());
    } catch (const QueueFull& e) {
      send_error(res, 503, e.what());
    } catch (const c10::OutOfMemoryError& e) {
      send_error(res, 503, std::string("out of memory on the device; retry later: ") + e.what_without_backtrace());
    } catch (const Error& e) {  // the model rejected the input (a Focus check)
      send_error(res, 400, e.what());
    } catch (const c10::Error& e) {  // a TorchScript assert or a shape error inside forward
      send_error(res, 400, std::string("the model cannot run on this input: ") + e.what_without_backtrace());
    } catch (const std::exception& e) {
      send_error(res, 500, std::string("internal error: ") + e.what());
    }
    if (large_turn.owns_lock()) {
      util::release_free_memory();
      large_turn.unlock();
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    metrics->request(models.count(model) ? model : "", res.status, seconds);
  }

  /// Logits through the model's batcher, waiting at most the request timeout.
  torch::Tensor infer(Entry& e, std::vector<torch::jit::IValue> inputs) {
    auto future = e.batcher->submit(std::move(inputs));
    const auto wait = std::chrono::duration<double>(options.request_timeout_s);
    if (future.wait_for(wait) != std::future_status::ready)
      throw RequestError(504, "the model did not answer within " + std::to_string(options.request_timeout_s) + " s");
    return future.get();
  }

  void routes();
  void classify(const std::string& name, const httplib::Request& req, httplib::Response& res);
};

void Server::Impl::routes() {
  http.Get("/v2/health/live", [this](const httplib::Request& req, httplib::Response& res) {
    handle(req, "", res, [&] { send_json(res, 200, {{"live", true}}); }, false);
  });
  http.Get("/v2/health/ready", [this](const httplib::Request& req, httplib::Response& res) {
    handle(req, "", res, [&] {
      const bool ready = !stopping.load();
      send_json(res, ready ? 200 : 503, {{"ready", ready}});
    }, false);
  });
  http.Get("/v2", [this](const httplib::Request& req, httplib::Response& res) {
    handle(req, "", res, [&] {
      send_json(res, 200, {{"name", "focus-serve"}, {"version", FOCUS_VERSION_STRING}, {"extensions", util::Json::array()}});
    });
  });
  http.Get(R"(/v2/models/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    handle(req, name, res, [&] { send_json(res, 200, model_metadata(name, *entry(name).model)); });
  });
  http.Get(R"(/v2/models/([^/]+)/ready)", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    handle(req, name, res, [&] {
      entry(name);
      send_json(res, 200, {{"name", name}, {"ready", !stopping.load()}});
    });
  });
  http.Post(R"(/v2/models/([^/]+)/infer)", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    handle(req, name, res, [&] {
      auto& e = entry(name);
      const auto request = parse_infer_request(req.body);
      auto logits = infer(e, request_inputs(request, *e.model));
      send_json(res, 200, infer_response(name, request, logits));
    });
  });
  http.Post(R"(/v2/models/([^/]+)/classify)", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    handle(req, name, res, [&] { classify(name, req, res); });
  });
  http.Get("/metrics", [this](const httplib::Request& req, httplib::Response& res) {
    handle(req, "", res, [&] {
      res.status = 200;
      res.set_content(metrics->render([this](const std::string& m) { return models.at(m).batcher->queue_depth(); }),
                      "text/plain; version=0.0.4");
    });
  });
}

void Server::Impl::classify(const std::string& name, const httplib::Request& req, httplib::Response& res) {
  auto& e = entry(name);
  RawExample example;
  example.name = "request";
  int64_t top = 5;
  std::string heatmap;
  if (req.is_multipart_form_data()) {
    if (req.has_file("image")) example.image = req.get_file_value("image").content;
    if (req.has_file("text")) example.text = req.get_file_value("text").content;
    if (req.has_file("top_k")) top = parse_top_k(req.get_file_value("top_k").content);
    if (req.has_file("heatmap")) heatmap = req.get_file_value("heatmap").content;
  } else {
    const util::Json body = parse_request_json(req.body);
    if (!body.is_object()) throw RequestError(400, "expected a JSON object with \"text\" and/or \"image\" (base64)");
    for (const auto& [key, value] : body.items())
      if (key != "text" && key != "image" && key != "top_k" && key != "heatmap")
        throw RequestError(400, "unknown field '" + key + "' (expected text, image, top_k, heatmap)");
    auto string_field = [&](const char* key) {
      if (!body.contains(key)) return std::string();
      if (!body[key].is_string()) throw RequestError(400, std::string("'") + key + "' must be a string");
      return body[key].get<std::string>();
    };
    example.text = string_field("text");
    const std::string image = string_field("image");
    if (!image.empty()) {
      try {
        example.image = util::base64_decode(image);
      } catch (const Error& ex) {
        throw RequestError(400, std::string("'image': ") + ex.what());
      }
    }
    if (body.contains("top_k")) {
      if (!body["top_k"].is_number_integer()) throw RequestError(400, "'top_k' must be an integer");
      top = parse_top_k(std::to_string(body["top_k"].get<int64_t>()));
    }
    if (body.contains("heatmap")) {
      if (body["heatmap"].is_boolean()) heatmap = body["heatmap"].get<bool>() ? "png" : "";
      else heatmap = string_field("heatmap");
    }
  }
  if (!heatmap.empty() && heatmap != "png" && heatmap != "weights")
    throw RequestError(400, "'heatmap' must be \"png\" or \"weights\", got \"" + heatmap + "\"");
  const auto kind = e.model->metadata().input;
  const bool wants_image = kind == models::InputKind::images || kind == models::InputKind::image_text;
  if (wants_image && example.image.empty()) throw RequestError(400, "model '" + name + "' needs an image ('image')");
  if (!wants_image && !example.image.empty()) throw RequestError(400, "model '" + name + "' reads text, not images");
  if (kind != models::InputKind::images && example.text.empty())
    throw RequestError(400, "model '" + name + "' needs a non-empty 'text'");
  if (kind == models::InputKind::images && !example.text.empty()) throw RequestError(400, "model '" + name + "' reads images, not text");

  auto inputs = make_inputs(*e.model, {example});
  util::Json answer = {{"model_name", name}};
  torch::Tensor logits;
  if (!heatmap.empty() && e.model->has_attention()) {
    std::unique_lock<std::timed_mutex> lock(*e.heatmap_lock, std::defer_lock);
    if (!lock.try_lock_for(std::chrono::duration<double>(options.request_timeout_s)))
      throw RequestError(503, "busy with other heatmaps; retry later");
    auto [with_maps, maps] = e.model->forward_with_attention(inputs);
    logits = with_maps;
    answer["heatmap"] = example_heatmap(*e.model, example, maps, heatmap);
  } else {
    logits = infer(e, std::move(inputs));
    if (!heatmap.empty()) answer["heatmap"] = {{"error", "the model has no forward_with_attention (not a Focus export)"}};
  }
  util::Json predictions = util::Json::array();
  const auto scores = top_k(*e.model, logits, top);
  for (const auto& s : scores[0])
    predictions.push_back({{"label", s.label}, {"index", s.index}, {"probability", s.probability}});
  answer["predictions"] = predictions;
  send_json(res, 200, answer);
}

Server::Server(std::vector<ServedModel> served, ServerOptions options) : impl_(std::make_unique<Impl>()) {
  auto& s = *impl_;
  s.options = std::move(options);
  if (served.empty()) throw Error("focus-serve needs at least one model");
  static const std::regex valid_name("[A-Za-z0-9_.-]+");
  std::vector<std::string> names;
  for (auto& m : served) {
    if (!std::regex_match(m.name, valid_name))
      throw Error("model name '" + m.name + "': use letters, digits, '_', '-' and '.'");
    if (s.models.count(m.name)) throw Error("model name '" + m.name + "' is given twice");
    names.push_back(m.name);
    Impl::Entry entry;
    entry.model = m.model;
    s.models.emplace(m.name, std::move(entry));
  }
  s.metrics = std::make_unique<ServeMetrics>(names);
  for (auto& [name, entry] : s.models) {
    auto model = entry.model;
    auto* metrics = s.metrics.get();
    const std::string model_name = name;
    entry.batcher = std::make_unique<DynamicBatcher>(
        s.options.batching, model->metadata().input,
        [model](const std::vector<torch::jit::IValue>& inputs) { return model->forward(inputs); },
        [metrics, model_name](int64_t examples) { metrics->batch(model_name, examples); });
  }

  const auto threads = static_cast<size_t>(std::max(1, s.options.http_threads));
  s.http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.http.set_payload_max_length(s.options.max_body_bytes);
  s.http.set_tcp_nodelay(true);  // small answers must not wait for delayed ACKs (Nagle)
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(s.options.request_timeout_s * 1000));
  s.http.set_read_timeout(timeout);
  s.http.set_write_timeout(timeout);
  s.http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // our own JSON error
    if (res.status == 404) send_error(res, 404, "no such endpoint: " + req.method + " " + req.path);
    else if (res.status == 413)
      send_error(res, 413, req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) == 0
                               ? "form-encoded bodies are limited to 8 KiB: send Content-Type: application/json"
                               : "the request body is larger than the server's limit");
    else send_error(res, res.status, "HTTP error " + std::to_string(res.status));
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, 500, "internal error: " + what);
  });
  s.routes();
}

Server::~Server() {
  stop();
  for (auto& [name, entry] : impl_->models) entry.batcher->stop();
}

int Server::bind() {
  auto& s = *impl_;
  if (s.options.port == 0) {
    const int port = s.http.bind_to_any_port(s.options.host);
    if (port <= 0) throw Error("cannot listen on " + s.options.host + " (any port)");
    return port;
  }
  // cpp-httplib binds with SO_REUSEPORT, so a second server on a busy port would
  // silently share it: refuse when something already answers there.
  if (port_answers(s.options.host, s.options.port))
    throw Error("cannot listen on " + s.options.host + ":" + std::to_string(s.options.port) + ": the port is in use");
  if (!s.http.bind_to_port(s.options.host, s.options.port))
    throw Error("cannot listen on " + s.options.host + ":" + std::to_string(s.options.port) +
                " (in use, or not an address of this machine)");
  return s.options.port;
}

void Server::serve() {
  impl_->http.listen_after_bind();
  // listen_after_bind returns after stop(), once the handler threads finished
  // their requests; then every queued forward call is answered.
  for (auto& [name, entry] : impl_->models) entry.batcher->stop();
}

void Server::stop() {
  impl_->stopping = true;
  impl_->http.stop();
}

}  // namespace focus::deploy
