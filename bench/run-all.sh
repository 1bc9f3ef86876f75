#!/usr/bin/env bash
# Regenerates every table of docs/BENCHMARKS.md: all of bench/run.sh's targets in
# order (build times, Fashion-MNIST, SpamAssassin, Sort-of-CLEVR, deployment, int8,
# heatmap faithfulness, data-parallel scaling, Focus against PyTorch in Python).
# The rows go to bench/results/summary.md, headed by the date, core count and CPU.
# Takes a few hours on 2 cores (the training runs dominate).
exec bash "$(dirname "$0")/run.sh" all
