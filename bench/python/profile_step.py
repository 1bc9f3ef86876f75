"""Where a training step's time goes, by operator and input shape.

    /usr/bin/python3 profile_step.py RECIPE.json INPUT_JSON [batch=128] [steps=10] [threads=2] [rows=15]

Builds the recipe's model with models.py (the eager mirror of the Focus model: the
same LibTorch kernels run under Focus's C++ calls), applies the recipe's
train.channels_last, and profiles `steps` training steps (forward, cross-entropy,
backward, AdamW) on a synthetic batch with torch.profiler. Prints the operators with
the most self CPU time, grouped by input shape, and the share of the step spent in
operators with an input of the largest spatial size (the stem's resolution).
Run it with Focus's malloc settings (MALLOC_MMAP_THRESHOLD_=33554432
MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_MMAP_MAX_=0) to profile what Focus runs.
"""

import sys

import torch
from torch.profiler import ProfilerActivity, profile

from model_speed import setup, synthetic


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    k, recipe, spec, model, optimizer = setup(argv, {"batch": 128, "steps": 10, "threads": 2, "rows": 15})
    inputs, targets = synthetic(recipe["model"]["arch"], spec, k["batch"], spec["max_length"], 20)
    model.train()

    def step():
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(*inputs), targets).backward()
        optimizer.step()

    for _ in range(3):
        step()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(k["steps"]):
            step()
    events = prof.key_averages(group_by_input_shape=True)
    total = sum(e.self_cpu_time_total for e in events)
    print(f"{k['steps']} steps, batch {k['batch']}, {k['threads']} threads: "
          f"{total / 1000 / k['steps']:.1f} ms self CPU time per step")
    print(events.table(sort_by="self_cpu_time_total", row_limit=k["rows"]))

    def spatial(event):  # the largest H*W among the 4-d inputs, 0 if none
        return max([s[2] * s[3] for s in event.input_shapes if isinstance(s, list) and len(s) == 4], default=0)

    largest = max(spatial(e) for e in events)
    share = sum(e.self_cpu_time_total for e in events if spatial(e) == largest) / total
    print(f"operators on the largest activations ({largest} positions): {100 * share:.0f}% of the step's self CPU time")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
