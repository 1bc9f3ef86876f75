// focus-train: train a classifier from a recipe into a run directory.
#include <cstdio>

#include "common/app_common.h"
#include "focus/train/run_training.h"
#include "focus/util/log.h"

int main(int argc, char** argv) {
  CLI::App app{
      "Train a model from a recipe (models/*.json) into a run directory.\n"
      "Tasks (the recipe's \"task\"): image_classification (attncnn, vit), text_classification\n"
      "(text_transformer, han, bag_of_embeddings) and masked_lm (pretrain a text encoder; a\n"
      "text_transformer recipe starts from it with --set model.init_from=RUN_DIR: the encoder\n"
      "shape and the tokenizer then come from that run, and data.max_length may not exceed its).\n"
      "The run directory gets the resolved recipe, labels, input.json, the normalisation (images)\n"
      "or tokenizer (text), metrics.jsonl, checkpoint.pt (every epoch), best.pt (best validation\n"
      "epoch) and summary.json.\n\n"
      "Examples:\n"
      "  focus-train --recipe models/fashion-attncnn.json --out runs/fashion\n"
      "  focus-train --recipe models/spam-transformer.json --out runs/spam\n"
      "  focus-train --recipe models/spam-mlm.json --out runs/mlm\n"
      "  focus-train --recipe models/fashion-attncnn.json --out runs/quick --set train.epochs=1 --set data.limit_train=5000\n"
      "  focus-train --resume --out runs/fashion\n\n"
      "Data-parallel training (docs/distributed.md): WORLD_SIZE > 1 in the environment (as torchrun, Slurm or a\n"
      "Kubernetes job set it: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, LOCAL_RANK) or the flags below join a\n"
      "group over PyTorch's c10d (TCPStore rendezvous, Gloo). train.batch_size is per process; rank 0 writes the run.\n"
      "  WORLD_SIZE=2 RANK=0 focus-train --recipe R --out runs/x &  WORLD_SIZE=2 RANK=1 focus-train --recipe R --out runs/x",
      "focus-train"};
  focus::train::TrainingRequest request;
  focus::apps::CommonFlags common;
  uint64_t seed = 0;
  bool no_progress = false;
  app.add_option("--recipe,-r", request.recipe_path, "Recipe JSON file")->check(CLI::ExistingFile);
  app.add_option("--out,-o", request.out_dir, "Run directory to create (or to continue with --resume)")->required();
  app.add_option("--set", request.overrides,
                 "Override a recipe value, e.g. --set train.epochs=3 (repeatable; values are JSON or strings)");
  app.add_flag("--resume", request.resume, "Continue the run in --out from its last checkpoint");
  auto* from_opt = app.add_option("--from", request.resume_from,
                                  "With --resume: the checkpoint file in the run directory to continue from, e.g. "
                                  "checkpoint.prev.pt (the previous epoch's, kept as a fallback)")
                       ->capture_default_str();
  app.add_option("--stop-after", request.stop_after_epoch,
                 "Stop after this epoch as if interrupted (the schedule still spans train.epochs)")
      ->check(CLI::NonNegativeNumber);
  auto* seed_opt = app.add_option("--seed", seed, "Seed for initialisation, data order, augmentation and masking "
                                                  "(overrides train.seed)");
  app.add_flag("--no-progress", no_progress, "No progress bar or progress lines, only per-epoch lines");
  focus::apps::add_common_flags(app, common);
  auto* dist = app.add_option_group("data-parallel training (flags override the environment)");
  int64_t rank = -1, world_size = -1, local_rank = -1, master_port = -1, timeout = -1;
  std::string master_addr;
  dist->add_option("--rank", rank, "This process's rank, 0 .. world size - 1 (RANK)")->check(CLI::NonNegativeNumber);
  dist->add_option("--world-size", world_size, "Number of processes (WORLD_SIZE; 1 = no group)")->check(CLI::PositiveNumber);
  dist->add_option("--local-rank", local_rank, "Rank on this machine, picks cuda:N with --device cuda (LOCAL_RANK)")
      ->check(CLI::NonNegativeNumber);
  dist->add_option("--master-addr", master_addr, "Address of rank 0's rendezvous store (MASTER_ADDR, default 127.0.0.1)");
  dist->add_option("--master-port", master_port, "Port of the rendezvous store (MASTER_PORT, default 29500)")
      ->check(CLI::Range(1, 65535));
  dist->add_option("--dist-timeout", timeout,
                   "Seconds a rank waits for the others (rendezvous, collectives) before failing (default 300)")
      ->check(CLI::PositiveNumber);

  return focus::apps::run_app(app, argc, argv, [&] {
    if (!request.resume && request.recipe_path.empty()) throw focus::Error("--recipe is required unless --resume is given");
    if (!request.resume && from_opt->count() > 0) throw focus::Error("--from applies to --resume");
    focus::apps::apply_common_flags(common);
    if (*seed_opt) request.seed = seed;
    auto& d = request.distributed;
    d = focus::train::distributed_from_environment(d);
    if (rank >= 0) d.rank = rank;
    if (world_size >= 0) d.world_size = world_size;
    if (local_rank >= 0) d.local_rank = local_rank;
    if (!master_addr.empty()) d.master_addr = master_addr;
    if (master_port >= 0) d.master_port = master_port;
    if (timeout >= 0) d.timeout_seconds = timeout;
    focus::train::check_distributed_options(d);
    request.device = common.device;
    if (d.world_size > 1 && common.device == "cuda") request.device = "cuda:" + std::to_string(d.local_rank);
    if (d.rank > 0) focus::util::log()->set_level(spdlog::level::warn);  // rank 0 reports for the group
    request.show_progress = !no_progress;
    request.tty = focus::apps::stderr_is_tty();
    auto summary = focus::train::run_training(request);
    if (d.rank > 0) return 0;
    std::printf("run: %s\n", summary.run_dir.c_str());
    std::printf("epochs completed: %ld, best epoch: %ld, best %s: %.4f\n",
                static_cast<long>(summary.fit.state.epoch), static_cast<long>(summary.fit.state.best_epoch),
                summary.summary["monitor"].get<std::string>().c_str(), summary.fit.state.best_metric);
    std::printf("training: %.1f s, %.0f examples/s\n", summary.fit.train_seconds, summary.fit.examples_per_second);
    return 0;
  });
}
