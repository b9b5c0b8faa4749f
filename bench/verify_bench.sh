#!/usr/bin/env bash
# `bwc verify` of a large clip against `sha256sum` and `openssl dgst -sha256` of the same
# file, in the same run, page cache warm for all (best of 3 each).
#   bench/verify_bench.sh BUILD_DIR [MIB]   (default 1024 MiB)
# Goals: without the key (certificate, signature, hashes) within 1.3x of openssl dgst;
# with the key (every chunk decrypted and authenticated too) within 2.5x.
set -euo pipefail
build=${1:?usage: bench/verify_bench.sh BUILD_DIR [MIB]}
mib=${2:-1024}
bwc=$build/dock/cli/bwc
[ -x "$bwc" ] || { echo "verify_bench: $bwc not built" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/bwc-verify-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$bwc" pki init "$work/pki" --agency "Bench Agency" >/dev/null
"$bwc" pki issue-device "$work/pki" bench-cam >/dev/null
"$bwc" pki issue-recipient "$work/pki" aek >/dev/null
head -c "$((mib * 1048576))" /dev/urandom > "$work/input.bin"
"$bwc" seal "$work/input.bin" --device-key "$work/pki/devices/bench-cam.key" \
  --device-cert "$work/pki/devices/bench-cam.pem" --recipient "$work/pki/recipients/aek.pem" \
  --state "$work/state" --out "$work/out" >/dev/null
rm -f "$work/input.bin"
clip=$(ls "$work"/out/*.bwcclip)

best() {  # best wall time of 3 runs of "$@", in seconds
  local b=""
  for _ in 1 2 3; do
    local s e t
    s=$(date +%s.%N); "$@" >/dev/null 2>&1 || { echo "verify_bench: '$*' failed" >&2; exit 1; }
    e=$(date +%s.%N); t=$(echo "$e - $s" | bc -l)
    if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t; fi
  done
  echo "$b"
}

cat "$clip" >/dev/null  # warm the page cache
t_sha=$(best sha256sum "$clip")
t_dgst=$(best openssl dgst -sha256 "$clip")
t_nokey=$(best "$bwc" verify "$clip" --ca "$work/pki/ca.pem" --crl "$work/pki/crl.pem")
t_key=$(best "$bwc" verify "$clip" --ca "$work/pki/ca.pem" --crl "$work/pki/crl.pem" \
          --key "$work/pki/recipients/aek.key")

row() { printf '%-34s %8.3f s %9.0f MiB/s %7.2fx\n' "$1" "$2" "$(echo "$mib / $2" | bc -l)" "$(echo "$2 / $t_dgst" | bc -l)"; }
echo "bwc verify of a $mib MiB clip (ratio = time / openssl dgst time; lower is better)"
row "sha256sum" "$t_sha"
row "openssl dgst -sha256 (reference)" "$t_dgst"
row "bwc verify (no key)" "$t_nokey"
row "bwc verify --key (decrypt all)" "$t_key"
echo "goals: no key <= 1.30x, with key <= 2.50x"
