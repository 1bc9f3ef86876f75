#include "focus/train/run_training.h"

#include "focus/util/log.h"
#include <torch/utils.h>

#include <filesystem>
#include <sstream>

#include "focus/models/factory.h"
#include "focus/train/task.h"
#include "focus/train/recipe.h"
#include "focus/util/error.h"
#include "focus/util/runtime.h"

namespace focus::train {
namespace fs = std::filesystem;

TrainingSummary run_training(const TrainingRequest& request) {
  if (request.out_dir.empty()) throw Error("no run directory given (--out)");
  std::vector<std::string> overrides = request.overrides;
  if (request.seed) overrides.push_back("train.seed=" + std::to_string(*request.seed));

  // Everything that can fail on bad input is checked before the run directory is touched.
  Recipe recipe;
  std::optional<util::RunDirectory> existing;
  if (request.resume) {
    existing = util::RunDirectory::open(request.out_dir);
    if (request.resume_from.empty() || request.resume_from.find('/') != std::string::npos)
      throw Error("--from names a checkpoint file inside the run directory (e.g. checkpoint.prev.pt)");
    if (!existing->exists(request.resume_from))
      throw Error("cannot resume: " + existing->file(request.resume_from).string() + " does not exist" +
                  fallback_hint(*existing, request.resume_from));
    if (request.seed)
      throw Error("--seed cannot change on --resume: the data order and augmentation depend on it");
    // Only settings that do not change what the checkpoint means may change on resume.
    for (const auto& o : overrides) {
      const std::string key = o.substr(0, o.find('='));
      if (key != "train.epochs" && key != "train.patience" && key != "train.min_delta" && key != "data.workers")
        throw Error("--set " + key + " cannot change on --resume (allowed: train.epochs, train.patience, "
                    "train.min_delta, data.workers)");
    }
    auto json = existing->read_json("recipe.json");
    for (const auto& o : overrides) util::apply_override(json, o);
    recipe = parse_recipe(json, existing->file("recipe.json").string());
  } else {
    if (request.recipe_path.empty()) throw Error("no recipe given (--recipe)");
    recipe = load_recipe(request.recipe_path, overrides);
    if (fs::exists(fs::path(request.out_dir) / "checkpoint.pt"))
      throw Error("run directory " + request.out_dir +
                  " already holds a run: use --resume to continue it, or choose another --out");
  }
  const torch::Device device = util::resolve_device(request.device);

  // Data-parallel training: join the group before anything is written, so that a
  // failed rendezvous leaves no run directory behind; only rank 0 writes.
  std::shared_ptr<ProcessGroup> group;
  data::Shard shard;
  if (request.distributed.world_size > 1) {
    util::log()->info("rank {} of {}: joining the group at {}:{}", request.distributed.rank,
                      request.distributed.world_size, request.distributed.master_addr, request.distributed.master_port);
    group = ProcessGroup::join(request.distributed);
    shard = {group->rank(), group->size()};
  }
  const bool writer = !group || group->rank() == 0;

  util::log()->info("loading data for {}", recipe.task);
  auto task = prepare_training(recipe, existing ? &*existing : nullptr, shard);
  util::log()->info("data: {}", task.description);

  torch::manual_seed(recipe.train.seed);
  auto model = models::build_model(recipe.model, task.input, "recipe: model");
  if (task.initialize && !request.resume) task.initialize(*model);
  const int64_t parameters = models::count_parameters(*model);
  {
    std::ostringstream description;
    model->pretty_print(description);
    util::log()->info("model: {} ({} parameters) on {}", description.str(), parameters, device.str());
  }

  const bool created = !fs::exists(request.out_dir);
  // Every rank holds the directory (rank 0 writes into it; on resume each rank reads the checkpoint from it).
  auto run = util::RunDirectory::create(request.out_dir);
  if (writer && !request.resume) {
    run.write_json("recipe.json", to_json(recipe));
    run.write_json("input.json", models::to_json(task.input));
    task.save(run);
  } else if (writer && !overrides.empty()) {
    run.write_json("recipe.json", to_json(recipe));
  }

  Trainer trainer(model, recipe.train, device, run);
  FitOptions fit_options;
  fit_options.resume = request.resume;
  fit_options.resume_from = request.resume_from;
  fit_options.stop_after_epoch = request.stop_after_epoch;
  fit_options.show_progress = request.show_progress;
  fit_options.tty = request.tty;
  fit_options.group = group;
  fit_options.bucket_bytes = request.distributed.bucket_bytes;
  FitResult fit;
  try {
    fit = trainer.fit(*task.train, *task.val, fit_options);
  } catch (...) {
    // A new run that failed before its first checkpoint leaves nothing behind.
    if (writer && created && !run.exists("checkpoint.pt")) {
      std::error_code ec;
      fs::remove_all(run.root(), ec);
    }
    throw;
  }

  TrainingSummary summary;
  summary.run_dir = run.root().string();
  summary.fit = fit;
  summary.parameters = parameters;
  summary.summary = {{"name", recipe.name},
                     {"epochs_completed", fit.state.epoch},
                     {"epochs", recipe.train.epochs},
                     {"best_epoch", fit.state.best_epoch},
                     {"monitor", recipe.train.monitor},
                     {"best_metric", fit.state.best_metric},
                     {"stopped_early", fit.stopped_early},
                     {"train_seconds", fit.train_seconds},
                     {"examples_per_second", fit.examples_per_second},
                     {"parameters", parameters},
                     {"threads", torch::get_num_threads()},
                     {"processes", group ? group->size() : 1},
                     {"device", device.str()}};
  if (writer) run.write_json("summary.json", summary.summary);
  return summary;
}

}  // namespace focus::train
