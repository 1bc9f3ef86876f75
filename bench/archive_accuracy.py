"""Accuracy of focus-predict's top-1 answers against the `label` field of the
JSONL file it read (one prediction line per input line, in order).

  python3 bench/archive_accuracy.py PREDICTIONS.jsonl INPUTS.jsonl
"""
import json
import sys

predictions = [json.loads(line) for line in open(sys.argv[1])]
labels = [json.loads(line)["label"] for line in open(sys.argv[2]) if line.strip()]
assert len(predictions) == len(labels), (len(predictions), len(labels))
right = sum(p["predictions"][0]["label"] == label for p, label in zip(predictions, labels))
print(f"{right / len(labels):.4f} {len(labels)}")
