#!/usr/bin/env python3
"""The Python side of `focus-bench-model`: the same architecture (models.py,
eager PyTorch), the same synthetic inputs, optimizer and measurements, so that
bench/run.sh python can report Focus / PyTorch ratios.

    model_speed.py RECIPE.json INPUT_JSON [key=value ...]

Keys and defaults as focus-bench-model: batch=128 eval_batch=500 steps=30
eval_steps=10 repeats=300 threads=1 length=0 questions_per_image=20.
Prints one JSON object.
"""
import json
import resource
import sys
import time

import torch

import models

CLS = 2  # [CLS] token id (focus::data::SpecialTokens::cls)


def synthetic(arch, spec, n, length, per_image):
    """A batch of n synthetic examples shaped as the model reads them: (inputs tuple, targets)."""
    targets = torch.randint(0, spec["num_classes"], (n,))
    if arch in ("attncnn", "vit"):
        return (torch.randn(n, spec["channels"], spec["height"], spec["width"]),), targets
    ids = torch.randint(5, max(6, spec["vocab_size"]), (n, length))
    ids[:, 0] = CLS
    mask = torch.ones(n, length, dtype=torch.bool)
    if arch == "fusion":
        images = (n + per_image - 1) // per_image
        return (ids, mask, torch.randn(images, spec["channels"], spec["height"], spec["width"]),
                torch.div(torch.arange(n), per_image, rounding_mode="floor")), targets
    return (ids, mask), targets


def optimizer_for(model, config):
    """As focus::train::make_optimizer: weights of rank >= 2 decay, biases and norms do not."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    rest = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.get("weight_decay", 0.0)},
              {"params": rest, "weight_decay": 0.0}]
    if config.get("name", "adamw") == "sgd":
        return torch.optim.SGD(groups, lr=config.get("lr", 1e-3), momentum=config.get("momentum", 0.9))
    return torch.optim.AdamW(groups, lr=config.get("lr", 1e-3))


def percentile(values, p):
    values = sorted(values)
    return values[int(p * (len(values) - 1))]


def setup(argv, k):
    """Shared by the bench scripts: parses key=value arguments into the defaults `k`,
    sets the threads, and builds the recipe's model (channels-last if the recipe says
    so, as focus::train::Trainer does) and optimizer. Returns (k, recipe, spec, model,
    optimizer)."""
    for arg in argv[3:]:
        key, _, value = arg.partition("=")
        if key not in k:
            raise SystemExit(f"unknown argument {arg}")
        k[key] = int(value)
    torch.set_num_threads(k["threads"])
    recipe = json.load(open(argv[1]))
    spec = {"channels": 0, "height": 0, "width": 0, "num_classes": 10, "vocab_size": 0, "max_length": 0}
    spec.update(json.loads(argv[2]))
    torch.manual_seed(0)
    model = models.build(recipe["model"], spec)
    if recipe.get("train", {}).get("channels_last", False):
        model = model.to(memory_format=torch.channels_last)
    return k, recipe, spec, model, optimizer_for(model, recipe.get("train", {}).get("optimizer", {}))


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    k, recipe, spec, model, optimizer = setup(argv, {
        "batch": 128, "eval_batch": 500, "steps": 30, "eval_steps": 10, "repeats": 300, "threads": 1,
        "length": 0, "questions_per_image": 20})
    arch = recipe["model"]["arch"]
    length = k["length"] or spec["max_length"]

    inputs, targets = synthetic(arch, spec, k["batch"], length, k["questions_per_image"])
    model.train()

    def step():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(*inputs), targets)
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(k["steps"]):
        step()
    train_rate = k["steps"] * k["batch"] / (time.perf_counter() - start)

    model.eval()
    eval_inputs, _ = synthetic(arch, spec, k["eval_batch"], length, k["questions_per_image"])
    with torch.inference_mode():
        model(*eval_inputs)
        start = time.perf_counter()
        for _ in range(k["eval_steps"]):
            model(*eval_inputs)
        eval_rate = k["eval_steps"] * k["eval_batch"] / (time.perf_counter() - start)

    one, _ = synthetic(arch, spec, 1, length, 1)
    latency = []
    with torch.inference_mode():
        for _ in range(20):
            model(*one)
        for _ in range(k["repeats"]):
            t = time.perf_counter()
            model(*one)
            latency.append((time.perf_counter() - t) * 1000)
    print(json.dumps({"side": "python", "arch": arch, "parameters": models.count_parameters(model),
                      "threads": torch.get_num_threads(), "batch": k["batch"],
                      "train_samples_per_s": round(train_rate, 1), "eval_samples_per_s": round(eval_rate, 1),
                      "latency_p50_ms": round(percentile(latency, 0.5), 4),
                      "latency_p99_ms": round(percentile(latency, 0.99), 4),
                      "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
