"""Loads a Focus TorchScript archive with PyTorch in Python and checks it on
the examples focus-export --reference wrote: logits and every attention map
within the tolerance, and the metadata in focus.json. Prints one JSON line."""
import json
import sys

import torch

torch.set_num_threads(1)  # the same reduction order as focus-export --threads 1: identical results


def main():
    archive, reference = sys.argv[1], sys.argv[2]
    tolerance = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-5
    extra = {"focus.json": "", "recipe.json": ""}
    model = torch.jit.load(archive, _extra_files=extra)
    meta = json.loads(extra["focus.json"])
    assert meta["format"] == "focus-torchscript", meta
    assert json.loads(extra["recipe.json"]), "empty recipe.json"
    inputs, logits, maps = torch.load(reference)
    with torch.no_grad():
        got, got_maps = model.forward_with_attention(*inputs)
        plain = model(*inputs)
    worst = max((got - logits).abs().max().item(), (plain - logits).abs().max().item())
    assert list(got_maps.keys()) == list(maps.keys()), (list(got_maps.keys()), list(maps.keys()))
    worst_map = 0.0
    for name, weights in maps.items():
        assert got_maps[name].shape == weights.shape, name
        worst_map = max(worst_map, (got_maps[name] - weights).abs().max().item())
    assert logits.shape[1] == len(meta["class_names"]), "logits do not match the class names"
    ok = worst <= tolerance and worst_map <= tolerance
    print(json.dumps({"arch": meta["arch"], "examples": logits.shape[0], "max_logit_difference": worst,
                      "max_attention_difference": worst_map, "maps": len(maps), "ok": ok}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
