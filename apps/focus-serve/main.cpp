// focus-serve: TorchScript classifiers over HTTP with the Open Inference Protocol v2.
#include <signal.h>
#include <unistd.h>


#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <thread>

#include "common/app_common.h"
#include "focus/deploy/server.h"
#include "focus/util/error.h"
#include "focus/util/log.h"
#include "focus/util/runtime.h"

namespace {
// SIGTERM / SIGINT write a byte into this pipe (the only async-signal-safe way
// out of a handler); a thread reading it stops the server. Threads LibTorch
// starts before main() would take a blocked signal's default action, so the
// signals are caught by a handler rather than blocked for sigwait.
int stop_pipe[2] = {-1, -1};
extern "C" void on_stop_signal(int) {
  const char byte = 1;
  [[maybe_unused]] const auto n = write(stop_pipe[1], &byte, 1);
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Serve TorchScript classifiers (focus-export archives, or image classifiers saved from Python) over\n"
      "HTTP with the Open Inference Protocol v2 (KServe / Triton clients):\n"
      "  GET  /v2/health/live   /v2/health/ready   /v2\n"
      "  GET  /v2/models/NAME   /v2/models/NAME/ready\n"
      "  POST /v2/models/NAME/infer      {\"inputs\": [{\"name\", \"shape\", \"datatype\", \"data\"}, ...]}\n"
      "       inputs: images FP32 [B, C, H, W] (normalised); ids INT64 + mask BOOL [B, L]; or, for text\n"
      "       models, text BYTES [B] (tokenized by the server). Outputs: logits, probabilities.\n"
      "  POST /v2/models/NAME/classify   JSON {\"image\": base64, \"text\": ..., \"top_k\": 5, \"heatmap\": \"png\"|\"weights\"}\n"
      "       or multipart/form-data (file 'image', fields 'text', 'top_k', 'heatmap'): labels and an optional heatmap\n"
      "  GET  /metrics                   Prometheus: focus_requests_total, focus_request_duration_seconds,\n"
      "                                  focus_batch_size, focus_queue_depth\n"
      "Requests to a model are batched dynamically: a forward call takes up to --max-batch-size examples,\n"
      "waiting at most --max-delay-us for them; when --max-queue requests wait, new ones get 503.\n"
      "Without batching (--max-batch-size 1), --threads 1 is usually faster: one example is too little work to\n"
      "split across threads that compete with the HTTP threads (docs/BENCHMARKS.md: 707 against 357 requests/s).\n"
      "With --token, every endpoint but /v2/health/* needs 'Authorization: Bearer TOKEN' (else 401).\n"
      "Errors are 4xx/5xx answers with {\"error\": ...}. SIGTERM or SIGINT: stop accepting, answer the requests\n"
      "in flight, exit 0.\n\n"
      "Examples:\n"
      "  focus-serve --model fashion=runs/fashion/model.pt --port 8080\n"
      "  focus-serve --model spam=spam.pt --model fashion=fashion.pt --token \"$TOKEN\" --host 0.0.0.0\n"
      "  curl -s localhost:8080/v2/models/spam/classify -H 'Content-Type: application/json' \\\n"
      "       -d '{\"text\": \"WIN a FREE prize\", \"heatmap\": \"weights\"}'",
      "focus-serve"};
  std::vector<std::string> model_flags;
  focus::deploy::ServerOptions options;
  focus::deploy::ForeignModelOptions foreign;
  focus::apps::CommonFlags common;
  double max_body_mib = 16;
  app.add_option("--model", model_flags, "NAME=PATH of a TorchScript archive (repeatable)")->required();
  app.add_option("--host", options.host, "Address to listen on (0.0.0.0 = every interface)")->capture_default_str();
  app.add_option("--port", options.port, "Port (0 = any free port, printed at start)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  app.add_option("--token", options.token, "Bearer token required on every endpoint except health");
  app.add_option("--max-batch-size", options.batching.max_batch_size, "Examples per forward call (1 = no batching)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max-delay-us", options.batching.max_delay_us, "Longest wait for a batch to fill, in microseconds")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--max-queue", options.batching.max_queue, "Requests waiting per model before 503")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max-body-mib", max_body_mib, "Largest request body, MiB (413 above)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--timeout", options.request_timeout_s, "Seconds allowed to read, answer or wait for the model (504)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--http-threads", options.http_threads, "Connections handled at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  auto* foreign_group = app.add_option_group("Models without Focus metadata (image classifiers)");
  foreign_group->add_option("--channels", foreign.channels, "Image channels")->check(CLI::IsMember({1, 3}))->capture_default_str();
  foreign_group->add_option("--height", foreign.height, "Image height")->check(CLI::PositiveNumber)->capture_default_str();
  foreign_group->add_option("--width", foreign.width, "Image width")->check(CLI::PositiveNumber)->capture_default_str();
  foreign_group->add_option("--mean", foreign.mean, "Per-channel mean")->capture_default_str();
  foreign_group->add_option("--std", foreign.std, "Per-channel standard deviation")->capture_default_str();
  focus::apps::add_common_flags(app, common);

  return focus::apps::run_app(app, argc, argv, [&] {
    // First, so that a signal while the models load still stops the server cleanly.
    if (pipe(stop_pipe) != 0) throw focus::Error("cannot create the signal pipe");
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    action.sa_flags = SA_RESTART;  // accept() and friends resume instead of failing with EINTR
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    common.long_running = true;
    focus::apps::apply_common_flags(common);
    options.max_body_bytes = static_cast<size_t>(max_body_mib * 1024 * 1024);
    const auto device = focus::util::resolve_device(common.device);
    std::vector<focus::deploy::ServedModel> models;
    for (const auto& flag : model_flags) {
      const auto eq = flag.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == flag.size())
        throw focus::Error("--model " + flag + ": expected NAME=PATH");
      auto model = std::make_shared<focus::deploy::ScriptModel>(
          focus::deploy::ScriptModel::load(flag.substr(eq + 1), device, foreign));
      focus::util::log()->info("model {}: {} ({} input, {} classes)", flag.substr(0, eq), flag.substr(eq + 1),
                               focus::deploy::input_kind_name(model->metadata().input),
                               model->metadata().class_names.size());
      models.push_back({flag.substr(0, eq), model});
    }
    focus::deploy::Server server(std::move(models), options);
    const int port = server.bind();
    std::printf("focus-serve: listening on http://%s:%d\n", options.host.c_str(), port);
    std::fflush(stdout);
    std::atomic<bool> serving{true};
    std::thread signals([&] {
      char byte = 0;
      ssize_t got = 0;
      do {
        got = read(stop_pipe[0], &byte, 1);
      } while (got < 0 && errno == EINTR);
      if (got == 1 && byte == 1) {
        focus::util::log()->info("stopping: answering the requests in flight");
        // Repeated until serve() returns: a stop that lands before the server
        // started listening would otherwise be lost.
        while (serving) {
          server.stop();
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
      }
    });
    server.serve();
    serving = false;
    const char done = 0;  // wakes the reader if serve() ended without a signal
    [[maybe_unused]] const auto n = write(stop_pipe[1], &done, 1);
    signals.join();
    std::printf("focus-serve: stopped\n");
    return 0;
  });
}
