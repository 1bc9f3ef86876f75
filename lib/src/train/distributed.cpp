#include "focus/train/distributed.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "focus/util/error.h"

namespace focus::train {

namespace {

int64_t env_number(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  try {
    size_t used = 0;
    const long long v = std::stoll(value, &used);
    if (used == std::string(value).size()) return v;
  } catch (const std::exception&) {
  }
  throw Error(std::string("environment variable ") + name + "='" + value + "' is not a whole number");
}

bool is_loopback(const std::string& host) { return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1"; }

}  // namespace

void check_distributed_options(const DistributedOptions& o) {
  if (o.world_size < 1) throw Error("the world size must be >= 1, got " + std::to_string(o.world_size));
  if (o.rank < 0 || o.rank >= o.world_size)
    throw Error("rank " + std::to_string(o.rank) + " is outside the world of " + std::to_string(o.world_size) +
                " processes (ranks 0.." + std::to_string(o.world_size - 1) + ")");
  if (o.master_port < 1 || o.master_port > 65535)
    throw Error("master port " + std::to_string(o.master_port) + " is outside 1..65535");
  if (o.timeout_seconds < 1) throw Error("the distributed timeout must be >= 1 second");
  if (o.bucket_bytes < 1) throw Error("the gradient bucket size must be >= 1 byte");
  if (o.master_addr.empty()) throw Error("no master address (MASTER_ADDR) for the rendezvous");
}

DistributedOptions distributed_from_environment(DistributedOptions o) {
  o.rank = env_number("RANK", o.rank);
  o.world_size = env_number("WORLD_SIZE", o.world_size);
  o.local_rank = env_number("LOCAL_RANK", o.local_rank);
  o.master_port = env_number("MASTER_PORT", o.master_port);
  if (const char* addr = std::getenv("MASTER_ADDR"); addr != nullptr && *addr != '\0') o.master_addr = addr;
  check_distributed_options(o);
  return o;
}

// ------------------------------------------------------------------ ProcessGroup

struct ProcessGroup::Impl {
  int64_t rank = 0, size = 1;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;

  void wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) const {
    try {
      work->wait();
    } catch (const std::exception& e) {
      throw Error("rank " + std::to_string(rank) + ": " + what + " failed: another rank died or stopped answering (" +
                  std::string(e.what()).substr(0, 300) + ")");
    }
  }
};

ProcessGroup::ProcessGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProcessGroup::~ProcessGroup() = default;

std::shared_ptr<ProcessGroup> ProcessGroup::join(const DistributedOptions& o) {
  check_distributed_options(o);
  auto impl = std::make_unique<Impl>();
  impl->rank = o.rank;
  impl->size = o.world_size;
  const auto timeout = std::chrono::milliseconds(o.timeout_seconds * 1000);
  const std::string where = o.master_addr + ":" + std::to_string(o.master_port);
  try {
    c10d::TCPStoreOptions store;
    store.port = static_cast<std::uint16_t>(o.master_port);
    store.isServer = o.rank == 0;
    store.numWorkers = static_cast<std::size_t>(o.world_size);
    store.waitWorkers = true;
    store.timeout = timeout;
    impl->store = c10::make_intrusive<c10d::TCPStore>(o.master_addr, store);
  } catch (const std::exception& e) {
    throw Error("rank " + std::to_string(o.rank) + ": the rendezvous at " + where + " failed within " +
                std::to_string(o.timeout_seconds) + " s (" + std::string(e.what()).substr(0, 300) +
                "); check MASTER_ADDR/MASTER_PORT, that rank 0 is running and that all " +
                std::to_string(o.world_size) + " ranks started");
  }
  try {
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    if (const char* iface = std::getenv("GLOO_SOCKET_IFNAME"); iface != nullptr && *iface != '\0')
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(iface));
    else if (is_loopback(o.master_addr))
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    options->threads = 2;
    impl->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, static_cast<int>(o.rank),
                                                              static_cast<int>(o.world_size), options);
  } catch (const std::exception& e) {
    throw Error("rank " + std::to_string(o.rank) + ": cannot connect the Gloo process group through " + where +
                " within " + std::to_string(o.timeout_seconds) + " s (" + std::string(e.what()).substr(0, 200) +
                "); check that all " + std::to_string(o.world_size) + " ranks started with the same MASTER_ADDR/MASTER_PORT");
  }
  return std::shared_ptr<ProcessGroup>(new ProcessGroup(std::move(impl)));
}

int64_t ProcessGroup::rank() const { return impl_->rank; }
int64_t ProcessGroup::size() const { return impl_->size; }

void ProcessGroup::broadcast_module(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> tensors = module.parameters();
  for (auto& b : module.buffers()) tensors.push_back(b);
  for (auto& t : tensors) {
    std::vector<torch::Tensor> one{t.is_contiguous() ? t : t.contiguous()};
    impl_->wait(impl_->group->broadcast(one), "broadcasting the initial parameters");
    if (!one[0].is_same(t)) t.copy_(one[0]);
  }
}

void ProcessGroup::sum(std::vector<double>& values) {
  if (values.empty()) return;
  auto t = torch::tensor(values, torch::kDouble);
  std::vector<torch::Tensor> one{t};
  impl_->wait(impl_->group->allreduce(one), "reducing metrics");
  for (size_t i = 0; i < values.size(); ++i) values[i] = t[static_cast<int64_t>(i)].item<double>();
}

void ProcessGroup::sum(std::vector<torch::Tensor>& tensors) {
  for (auto& t : tensors) {
    std::vector<torch::Tensor> one{t};
    impl_->wait(impl_->group->allreduce(one), "reducing tensors");
  }
}

void ProcessGroup::barrier() { impl_->wait(impl_->group->barrier(), "the barrier"); }

// ------------------------------------------------------------------ GradientSync

struct GradientSync::State {
  struct Bucket {
    std::vector<size_t> params;  ///< indices into State::params
    torch::Tensor flat;
    int64_t pending = 0;
    c10::intrusive_ptr<c10d::Work> work;
  };
  std::shared_ptr<ProcessGroup> group;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
  std::vector<torch::Tensor> params;  ///< reverse registration order
  std::vector<size_t> bucket_of;
  std::vector<int64_t> offset_of;
  std::vector<bool> ready;
  std::vector<Bucket> buckets;
  std::vector<unsigned> hooks;
  size_t next_launch = 0;
  bool active = false;
  std::mutex mutex;

  void launch_ready_buckets() {  // caller holds the mutex
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
      std::vector<torch::Tensor> one{buckets[next_launch].flat};
      buckets[next_launch].work = gloo->allreduce(one);
      ++next_launch;
    }
  }

  void on_gradient(size_t i, const torch::Tensor& grad) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!active || ready[i]) return;
    auto& bucket = buckets[bucket_of[i]];
    bucket.flat.narrow(0, offset_of[i], grad.numel()).copy_(grad.reshape({-1}));
    ready[i] = true;
    --bucket.pending;
    launch_ready_buckets();
  }
};

GradientSync::GradientSync(torch::nn::Module& module, std::shared_ptr<ProcessGroup> group, int64_t bucket_bytes)
    : state_(std::make_shared<State>()) {
  auto& s = *state_;
  s.group = std::move(group);
  s.gloo = s.group->impl_->group;
  for (auto& p : module.parameters())
    if (p.requires_grad()) s.params.push_back(p);
  std::reverse(s.params.begin(), s.params.end());
  s.bucket_of.resize(s.params.size());
  s.offset_of.resize(s.params.size());
  s.ready.assign(s.params.size(), false);
  int64_t bytes = 0, numel = 0;
  for (size_t i = 0; i < s.params.size(); ++i) {
    const auto& p = s.params[i];
    const bool new_bucket = s.buckets.empty() || bytes >= bucket_bytes ||
                            s.params[s.buckets.back().params.front()].scalar_type() != p.scalar_type() ||
                            s.params[s.buckets.back().params.front()].device() != p.device();
    if (new_bucket) {
      if (!s.buckets.empty()) s.buckets.back().flat = torch::zeros({numel}, s.params[s.buckets.back().params.front()].options());
      s.buckets.emplace_back();
      bytes = numel = 0;
    }
    s.buckets.back().params.push_back(i);
    s.bucket_of[i] = s.buckets.size() - 1;
    s.offset_of[i] = numel;
    numel += p.numel();
    bytes += p.numel() * static_cast<int64_t>(p.element_size());
  }
  if (!s.buckets.empty()) s.buckets.back().flat = torch::zeros({numel}, s.params[s.buckets.back().params.front()].options());
  std::weak_ptr<State> weak = state_;
  for (size_t i = 0; i < s.params.size(); ++i)
    s.hooks.push_back(s.params[i].register_hook([weak, i](const torch::Tensor& grad) {
      if (auto state = weak.lock()) state->on_gradient(i, grad);
    }));
}

GradientSync::~GradientSync() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->active = false;
  for (size_t i = 0; i < state_->params.size() && i < state_->hooks.size(); ++i) {
    try {
      state_->params[i].remove_hook(state_->hooks[i]);
    } catch (const std::exception&) {
    }
  }
}

int64_t GradientSync::buckets() const { return static_cast<int64_t>(state_->buckets.size()); }

void GradientSync::prepare() {
  auto& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  for (auto& b : s.buckets) {
    b.flat.zero_();
    b.pending = static_cast<int64_t>(b.params.size());
    b.work.reset();
  }
  s.ready.assign(s.params.size(), false);
  s.next_launch = 0;
  s.active = true;
}

void GradientSync::finish() {
  auto& s = *state_;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    // Buckets with parameters that got no gradient here (unused in this step) go now, with zeros for them.
    for (auto& b : s.buckets) b.pending = 0;
    s.launch_ready_buckets();
    s.active = false;
  }
  torch::NoGradGuard no_grad;
  const double scale = 1.0 / static_cast<double>(s.group->size());
  for (auto& b : s.buckets) {
    s.group->impl_->wait(b.work, "averaging gradients");
    b.flat.mul_(scale);
    for (size_t i : b.params) {
      auto& p = s.params[i];
      auto averaged = b.flat.narrow(0, s.offset_of[i], p.numel()).view(p.sizes());
      if (p.grad().defined())
        p.mutable_grad().copy_(averaged);
      else
        p.mutable_grad() = averaged.clone();
    }
  }
}

}  // namespace focus::train
