#!/usr/bin/env bash
# Copyright 2026 The profiler agent authors
# SPDX-License-Identifier: Apache-2.0
#
# Builds wasm-unwind/lib/wasm_unwind.wasm with Debian's Rust toolchain (rustc 1.63 and the
# wasm32 std from libstd-rust-dev-wasm32) and Debian-packaged crates, offline.
#
#   bash wasm-unwind/build.sh            build if the sources changed since lib/ was built
#   bash wasm-unwind/build.sh --check    exit 1 (and say why) if lib/ is stale; build nothing
#   bash wasm-unwind/build.sh --force    rebuild even if current
#   bash wasm-unwind/build.sh --native   also build the native CLI (target/release/unwind_table_native)
#   bash wasm-unwind/build.sh --test     also run the Rust unit tests natively (cargo test)
#   bash wasm-unwind/build.sh --lint     also run clippy (native and wasm32) and rustfmt --check
#
# rustup's toolchain (/root/.cargo/bin, first in PATH on these machines) has no wasm32 std and
# cannot fetch one, so this script never uses it: it calls /usr/bin/cargo with
# RUSTC=/usr/bin/rustc, a PATH without ~/.cargo/bin, and a private CARGO_HOME (cargo would
# otherwise run rustup's cargo-clippy/cargo-fmt from ~/.cargo/bin).
#
# "Current" means: the SHA-256 of the sources (Cargo.toml, Cargo.lock, .cargo/config.toml,
# rustfmt.toml, src/**, this script) equals the one recorded in lib/wasm_unwind.wasm.stamp,
# and the .wasm's own hash matches the stamp. A current build returns in milliseconds.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

check=0 force=0 native=0 test=0 lint=0
for arg in "$@"; do
  case "$arg" in
    --check) check=1 ;;
    --force) force=1 ;;
    --native) native=1 ;;
    --test) test=1 ;;
    --lint) lint=1 ;;
    -h | --help)
      sed -n '4,22p' "$here/build.sh" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "build.sh: unknown option '$arg' (see --help)" >&2
      exit 2
      ;;
  esac
done

wasm="lib/wasm_unwind.wasm"
stamp="lib/wasm_unwind.wasm.stamp"

source_hash() {
  # Sorted, NUL-safe list of the inputs; the hash covers names and contents.
  {
    printf '%s\n' Cargo.toml Cargo.lock .cargo/config.toml rustfmt.toml build.sh
    find src -type f -name '*.rs' | LC_ALL=C sort
  } | while IFS= read -r f; do
    [ -f "$f" ] || continue
    printf '%s\n' "$f"
    sha256sum <"$f"
  done | sha256sum | cut -d' ' -f1
}

is_current() {
  [ -f "$wasm" ] && [ -f "$stamp" ] || return 1
  local want_src want_wasm
  want_src="$(sed -n 's/^source-sha256 //p' "$stamp")"
  want_wasm="$(sed -n 's/^wasm-sha256 //p' "$stamp")"
  [ "$want_src" = "$(source_hash)" ] && [ "$want_wasm" = "$(sha256sum <"$wasm" | cut -d' ' -f1)" ]
}

if [ "$check" = 1 ]; then
  if is_current; then
    echo "wasm-unwind: $wasm is current"
    exit 0
  fi
  echo "wasm-unwind: $wasm is stale or missing (run: bash wasm-unwind/build.sh)" >&2
  exit 1
fi

need_build=1
if [ "$force" = 0 ] && is_current; then
  need_build=0
fi
if [ "$need_build" = 0 ] && [ "$native" = 0 ] && [ "$test" = 0 ] && [ "$lint" = 0 ]; then
  echo "wasm-unwind: $wasm is current"
  exit 0
fi

# --- toolchain: Debian packages ------------------------------------------------------------
# lld-14 provides /usr/bin/rust-lld, the wasm32 linker rustc 1.63 invokes.
packages=(rustc cargo libstd-rust-dev-wasm32 librust-gimli-dev librust-object-dev librust-flate2-dev
  librust-addr2line-dev librust-rustc-demangle-dev librust-cpp-demangle-dev librust-stable-deref-trait-dev
  librust-flate2+miniz-oxide-dev lld-14)
if [ "$lint" = 1 ]; then
  packages+=(rust-clippy rustfmt)
fi
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "wasm-unwind: installing ${missing[*]}" >&2
  sudo_cmd=()
  if [ "$(id -u)" != 0 ]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; then
    # The package lists may be missing or old: refresh once, then retry.
    "${sudo_cmd[@]}" apt-get update >/dev/null
    "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

export PATH="/usr/bin:/bin:/usr/sbin:/sbin"
export RUSTC=/usr/bin/rustc
export CARGO_HOME="$here/target/cargo-home"
export CARGO_TARGET_DIR="$here/target"
unset RUSTFLAGS RUSTUP_TOOLCHAIN CARGO_BUILD_TARGET || true
cargo=/usr/bin/cargo

if [ "$lint" = 1 ]; then
  "$cargo" fmt --check
  "$cargo" clippy --offline --release --all-targets -- -D warnings
  "$cargo" clippy --offline --release --lib --target wasm32-unknown-unknown -- -D warnings
fi

if [ "$test" = 1 ]; then
  "$cargo" test --offline
fi

if [ "$native" = 1 ]; then
  "$cargo" build --offline --release --bin unwind_table_native
fi

if [ "$need_build" = 1 ]; then
  "$cargo" build --offline --release --lib --target wasm32-unknown-unknown
  mkdir -p lib
  cp "target/wasm32-unknown-unknown/release/wasm_unwind.wasm" "$wasm.tmp"
  mv "$wasm.tmp" "$wasm"
  {
    echo "# Written by wasm-unwind/build.sh; compared with the sources to skip current builds."
    echo "source-sha256 $(source_hash)"
    echo "wasm-sha256 $(sha256sum <"$wasm" | cut -d' ' -f1)"
    echo "toolchain $("$RUSTC" --version), $("$cargo" --version)"
  } >"$stamp"
  echo "wasm-unwind: built $wasm ($(stat -c %s "$wasm") bytes)"
else
  echo "wasm-unwind: $wasm is current"
fi
