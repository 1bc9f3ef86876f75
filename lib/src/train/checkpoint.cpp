#include "focus/train/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/ivalue.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cstring>
#include <mutex>
#include <sstream>

#include "focus/util/atomic_file.h"
#include "focus/util/error.h"

namespace focus::train {

namespace {
constexpr char kMagic[8] = {'F', 'O', 'C', 'U', 'S', 'C', 'K', '1'};
constexpr size_t kHeader = 8 + 8 + 8;  // magic, payload size, FNV-1a 64 checksum
constexpr const char* kTrainingWeights = "training_weights";  // beside "model" when that holds a weight average

uint64_t fnv1a(const char* data, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= 0x100000001b3ULL;
  }
  return h;
}
void put_u64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_u64(const std::string& s, size_t off) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(s[off + i])) << (8 * i);
  return v;
}
// Module::load does not check shapes (it re-points each tensor at the loaded
// data), so check every parameter and buffer first and name any mismatch.
void check_fits(const torch::nn::Module& module, torch::serialize::InputArchive& archive, const std::string& prefix,
                const std::string& origin) {
  auto check = [&](const std::string& key, const torch::Tensor& expected, bool buffer) {
    torch::Tensor found;
    if (!archive.try_read(key, found, buffer))
      throw Error(origin + ": checkpoint does not fit this model: it has no " + (buffer ? "buffer " : "parameter ") +
                  prefix + key);
    if (found.sizes() != expected.sizes()) {
      std::ostringstream msg;
      msg << origin << ": checkpoint does not fit this model: " << prefix << key << " is " << found.sizes()
          << " in the checkpoint but " << expected.sizes() << " in the model (was the recipe changed?)";
      throw Error(msg.str());
    }
  };
  for (const auto& p : module.named_parameters(/*recurse=*/false)) check(p.key(), p.value(), false);
  for (const auto& b : module.named_buffers(/*recurse=*/false)) check(b.key(), b.value(), true);
  // And nothing in the file that the model lacks (e.g. a block removed from the recipe).
  for (const auto& key : archive.keys()) {
    const bool known = module.named_parameters(false).contains(key) || module.named_buffers(false).contains(key) ||
                       module.named_children().contains(key);
    if (!known)
      throw Error(origin + ": checkpoint does not fit this model: it holds " + prefix + key +
                  ", which the model does not have (was the recipe changed?)");
  }
  for (const auto& child : module.named_children()) {
    torch::serialize::InputArchive child_archive;
    if (!archive.try_read(child.key(), child_archive))
      throw Error(origin + ": checkpoint does not fit this model: it has no module " + prefix + child.key());
    check_fits(*child.value(), child_archive, prefix + child.key() + ".", origin);
  }
}
// Module::save, but with copies of the tensors (an archive refers to the
// tensors it is given until it is serialised).
void save_copy(const torch::nn::Module& module, torch::serialize::OutputArchive& archive) {
  for (const auto& p : module.named_parameters(/*recurse=*/false)) archive.write(p.key(), p.value().detach().clone());
  for (const auto& b : module.named_buffers(/*recurse=*/false))
    archive.write(b.key(), b.value().detach().clone(), /*is_buffer=*/true);
  for (const auto& child : module.named_children()) {
    if (!child.value()->is_serializable()) continue;
    torch::serialize::OutputArchive child_archive(archive.compilation_unit());
    save_copy(*child.value(), child_archive);
    archive.write(child.key(), child_archive);
  }
}
}  // namespace

std::string seal_payload(const std::string& payload) {
  std::string out(kMagic, sizeof(kMagic));
  put_u64(out, payload.size());
  put_u64(out, fnv1a(payload.data(), payload.size()));
  out += payload;
  return out;
}

std::string unseal_payload(const std::string& bytes, const std::string& origin) {
  if (bytes.size() < kHeader || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0)
    throw Error(origin + ": not a Focus checkpoint (bad header; the file is corrupt or of another format)");
  const uint64_t size = get_u64(bytes, 8), sum = get_u64(bytes, 16);
  if (bytes.size() - kHeader != size)
    throw Error(origin + ": corrupt checkpoint: expected " + std::to_string(size) + " payload bytes, found " +
                std::to_string(bytes.size() - kHeader) + " (truncated or overwritten)");
  if (fnv1a(bytes.data() + kHeader, size) != sum)
    throw Error(origin + ": corrupt checkpoint: checksum mismatch (the file was modified or damaged)");
  return bytes.substr(kHeader);
}

util::Json to_json(const LoopState& s) {
  return {{"epoch", s.epoch}, {"step", s.step}, {"best_metric", s.best_metric}, {"best_epoch", s.best_epoch},
          {"bad_epochs", s.bad_epochs}};
}

LoopState loop_state_from_json(const util::Json& j, const std::string& context) {
  LoopState s;
  util::ObjectReader r(j, context);
  r.require("epoch", s.epoch).require("step", s.step).require("best_metric", s.best_metric);
  r.require("best_epoch", s.best_epoch).require("bad_epochs", s.bad_epochs);
  r.finish();
  return s;
}

void save_checkpoint(const std::filesystem::path& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                     const LoopState& state, WeightAverage* average) {
  torch::serialize::OutputArchive archive;
  if (average) {
    torch::serialize::OutputArchive training_archive;
    save_copy(model, training_archive);  // the average is about to take the model's tensors
    archive.write(kTrainingWeights, training_archive);
    average->swap(model);
  }
  torch::serialize::OutputArchive model_archive;
  model.save(model_archive);
  archive.write("model", model_archive);
  if (optimizer) {
    torch::serialize::OutputArchive opt_archive;
    optimizer->save(opt_archive);
    archive.write("optimizer", opt_archive);
  }
  archive.write("loop_state", c10::IValue(to_json(state).dump()));
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    archive.write("rng_state", gen.get_state());
  }
  std::ostringstream payload;
  archive.save_to(payload);  // archives refer to the tensors: serialise before the model changes
  if (average) average->swap(model);
  util::write_file_atomic(path, seal_payload(payload.str()));
}

LoopState read_checkpoint_state(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) throw Error(path.string() + ": checkpoint not found");
  const std::string payload = unseal_payload(util::read_file(path), path.string());
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(payload.data(), payload.size(), torch::Device(torch::kCPU));
    c10::IValue v;
    archive.read("loop_state", v);
    return loop_state_from_json(util::parse_json_text(v.toStringRef(), path.string()), path.string());
  } catch (const focus::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Error(path.string() + ": unreadable checkpoint (" + e.what_without_backtrace() + ")");
  }
}

void keep_previous_checkpoint(const std::filesystem::path& current, const std::filesystem::path& previous) {
  namespace fs = std::filesystem;
  if (!fs::exists(current)) return;
  fs::path staging = previous;
  staging += ".partial";
  std::error_code ec;
  fs::remove(staging, ec);
  fs::create_hard_link(current, staging, ec);
  if (ec) {
    ec.clear();
    fs::copy_file(current, staging, fs::copy_options::overwrite_existing, ec);
    if (ec) throw Error(staging.string() + ": cannot keep the previous checkpoint: " + ec.message());
  }
  fs::rename(staging, previous, ec);
  if (ec) throw Error(previous.string() + ": cannot keep the previous checkpoint: " + ec.message());
}

void load_checkpoint(const std::filesystem::path& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                     LoopState* state, bool restore_rng, WeightAverage* average) {
  if (!std::filesystem::exists(path)) throw Error(path.string() + ": checkpoint not found");
  const std::string payload = unseal_payload(util::read_file(path), path.string());
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(payload.data(), payload.size(), torch::Device(torch::kCPU));
    torch::serialize::InputArchive model_archive;
    archive.read("model", model_archive);
    check_fits(model, model_archive, "", path.string());
    model.load(model_archive);
    if (average) {
      torch::serialize::InputArchive training_archive;
      if (!archive.try_read(kTrainingWeights, training_archive))
        throw Error(path.string() + ": checkpoint holds no weight average (it was written without train.ema_decay), "
                    "so this run cannot resume from it");
      check_fits(model, training_archive, "", path.string());
      average->assign_from(model);
      model.load(training_archive);
    }
    if (optimizer) {
      torch::serialize::InputArchive opt_archive;
      if (!archive.try_read("optimizer", opt_archive))
        throw Error(path.string() + ": checkpoint holds no optimiser state, so training cannot resume from it");
      optimizer->load(opt_archive);
    }
    if (state) {
      c10::IValue v;
      archive.read("loop_state", v);
      *state = loop_state_from_json(util::parse_json_text(v.toStringRef(), path.string()), path.string());
    }
    if (restore_rng) {
      torch::Tensor rng;
      archive.read("rng_state", rng);
      auto gen = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(rng);
    }
  } catch (const focus::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Error(path.string() + ": checkpoint does not fit this model (" + e.what_without_backtrace() + ")");
  }
}

}  // namespace focus::train
