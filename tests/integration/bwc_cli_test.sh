#!/usr/bin/env bash
# End-to-end test of the bwc command line: agency PKI, seal a small MP4, verify (text and
# JSON), open, tamper, revoke, and the usage errors. Usage: bwc_cli_test.sh BWC FFMPEG PYTHON
set -uo pipefail

bwc=$1
ffmpeg=${2:-ffmpeg}
python=${3:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/bwc-cli-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
# expect CODE DESCRIPTION -- COMMAND...: runs COMMAND, output in $work/out and $work/err.
expect() {
  local want=$1 what=$2
  shift 3
  "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [ "$got" != "$want" ]; then
    fail "$what: exit $got, expected $want"
    sed 's/^/  stdout: /' "$work/out" >&2
    sed 's/^/  stderr: /' "$work/err" >&2
  fi
}
contains() { # FILE TEXT DESCRIPTION
  grep -qF -- "$2" "$1" || fail "$3: '$2' not in $(basename "$1"): $(head -c 2000 "$1")"
}

pki=$work/pki
expect 0 "pki init" -- "$bwc" pki init "$pki" --agency "Test Agency"
contains "$work/out" "$pki/ca.pem" "pki init prints the CA path"
# The CA is valid for the default 3650 days, the CRL for 30.
ca_until=$(sed -n 's/^  valid: .* to \([0-9]\{4\}\)-.*/\1/p' "$work/out")
[ "${ca_until:-0}" -ge $(( $(date -u +%Y) + 9 )) ] || fail "CA not valid for 10 years: $(cat "$work/out")"
expect 0 "issue-device" -- "$bwc" pki issue-device "$pki" cam-0001
contains "$work/out" "serial:" "issue-device prints the serial"
expect 0 "issue-recipient" -- "$bwc" pki issue-recipient "$pki" aek
expect 0 "issue-dock" -- "$bwc" pki issue-dock "$pki" dock-01
expect 2 "init twice" -- "$bwc" pki init "$pki" --agency "Test Agency"

"$ffmpeg" -hide_banner -loglevel error -f lavfi -i testsrc2=size=320x240:rate=30 -t 2 \
  -c:v libx264 -pix_fmt yuv420p -movflags +frag_keyframe+empty_moov "$work/in.mp4" ||
  { echo "FAIL: ffmpeg could not make the test video" >&2; exit 1; }

expect 0 "seal" -- "$bwc" seal "$work/in.mp4" --device-key "$pki/devices/cam-0001.key" \
  --device-cert "$pki/devices/cam-0001.pem" --recipient "$pki/recipients/aek.pem" \
  --state "$work/state" --out "$work/clips" --officer officer-7
clip=$(ls "$work"/clips/*.bwcclip 2>/dev/null | head -n1)
[ -n "$clip" ] || { echo "FAIL: seal wrote no clip" >&2; exit 1; }
stem=${clip%.bwcclip}
[ -f "$stem.bwcm" ] || fail "seal did not write the manifest"
[ -f "$stem.cert.pem" ] || fail "seal did not write the certificate chain"
[ -z "$(ls -A "$work/clips" | grep -v -e '\.bwcclip$' -e '\.bwcm$' -e '\.cert\.pem$')" ] ||
  fail "seal left other files in --out: $(ls -A "$work/clips")"
contains "$work/out" "seq:" "seal prints the seq"

ca=(--ca "$pki/ca.pem" --crl "$pki/crl.pem")
expect 0 "verify" -- "$bwc" verify "$clip" "${ca[@]}"
contains "$work/out" "RESULT: PASS" "verify passes"
expect 0 "verify with the key" -- "$bwc" verify "$clip" "${ca[@]}" --key "$pki/recipients/aek.key" \
  --examiner "E. Xaminer" --report-out "$work/report.txt"
contains "$work/out" "RESULT: PASS" "verify with the key passes"
contains "$work/report.txt" "E. Xaminer" "report file names the examiner"
expect 0 "verify --json" -- "$bwc" verify "$clip" "${ca[@]}" --json
"$python" -m json.tool "$work/out" >/dev/null || fail "verify --json is not JSON"

expect 0 "open" -- "$bwc" open "$clip" --key "$pki/recipients/aek.key" --out "$work/out.mp4"
cmp -s "$work/in.mp4" "$work/out.mp4" || fail "opened file differs from the input"
expect 2 "open refuses to overwrite" -- "$bwc" open "$clip" --key "$pki/recipients/aek.key" \
  --out "$work/out.mp4"
contains "$work/err" "already exists; use another --out or remove it" "open refuses to overwrite"
cmp -s "$work/in.mp4" "$work/out.mp4" || fail "refused open changed the existing file"

# A second clip, sealed with the other backend: 20 MiB crosses two 8 MiB checkpoints, and
# the chain gives it seq 2.
head -c $((20 << 20)) /dev/urandom >"$work/big.bin"
expect 0 "seal with openssl" -- "$bwc" seal "$work/big.bin" \
  --device-key "$pki/devices/cam-0001.key" --device-cert "$pki/devices/cam-0001.pem" \
  --recipient "$pki/recipients/aek.pem" --state "$work/state" --out "$work/big" --backend openssl
contains "$work/out" "seq:       2" "second clip has seq 2"
big=$(ls "$work"/big/*.bwcclip | head -n1)
expect 0 "verify the big clip" -- "$bwc" verify "$big" "${ca[@]}" --key "$pki/recipients/aek.key"
expect 0 "open the big clip" -- "$bwc" open "$big" --key "$pki/recipients/aek.key" \
  --manifest "${big%.bwcclip}.bwcm" --out "$work/big.out"
cmp -s "$work/big.bin" "$work/big.out" || fail "opened big clip differs from the input"
expect 2 "open with another clip's manifest" -- "$bwc" open "$big" \
  --key "$pki/recipients/aek.key" --manifest "$stem.bwcm" --out "$work/big2.out"
contains "$work/err" "manifest of another clip" "open names the wrong manifest"
expect 2 "seal with an unknown backend" -- "$bwc" seal "$work/in.mp4" \
  --device-key "$pki/devices/cam-0001.key" --device-cert "$pki/devices/cam-0001.pem" \
  --recipient "$pki/recipients/aek.pem" --state "$work/state" --out "$work/clips" --backend x

# Flip one byte in the middle of a copy of the clip.
mkdir -p "$work/tampered"
tclip=$work/tampered/$(basename "$clip")
cp "$clip" "$tclip"; cp "$stem.bwcm" "$stem.cert.pem" "$work/tampered/"
size=$(stat -c %s "$tclip")
"$python" - "$tclip" $((size / 2)) <<'PY'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0x01]))
PY
expect 1 "verify a tampered clip" -- "$bwc" verify "$tclip" "${ca[@]}"
contains "$work/out" "ciphertext_sha256" "tampered clip names ciphertext_sha256"
contains "$work/out" "RESULT: FAIL" "tampered clip fails"
expect 1 "open a tampered clip" -- "$bwc" open "$tclip" --key "$pki/recipients/aek.key" \
  --out "$work/tampered.mp4"
[ ! -e "$work/tampered.mp4" ] && [ ! -e "$work/tampered.mp4.tmp" ] ||
  fail "open of a tampered clip left output behind"

# Usage and input errors.
expect 2 "verify without --ca" -- "$bwc" verify "$clip"
contains "$work/err" "--ca is required" "missing --ca explained"
expect 2 "verify a missing clip" -- "$bwc" verify "$work/none.bwcclip" "${ca[@]}"
contains "$work/err" "none.bwcclip" "missing clip named"
expect 2 "seal a missing file" -- "$bwc" seal "$work/none.mp4" \
  --device-key "$pki/devices/cam-0001.key" --device-cert "$pki/devices/cam-0001.pem" \
  --recipient "$pki/recipients/aek.pem" --state "$work/state" --out "$work/clips2"
[ ! -e "$work/clips2" ] || fail "failed seal created its output directory"
expect 2 "unknown command" -- "$bwc" frobnicate

# Revoke the device and publish a CRL: the clip no longer verifies.
expect 0 "revoke" -- "$bwc" pki revoke "$pki" cam-0001 --reason "key compromise"
expect 0 "crl" -- "$bwc" pki crl "$pki"
contains "$work/out" "revoked certificates: 1" "crl counts the revocation"
expect 2 "revoke an unknown name" -- "$bwc" pki revoke "$pki" nobody --reason test
contains "$work/err" "index.txt" "unknown revoke points at the index"
expect 1 "verify after revocation" -- "$bwc" verify "$clip" "${ca[@]}"
grep -qi "revoked" "$work/out" || fail "verify after revocation does not say revoked"

expect 0 "--version" -- "$bwc" --version
contains "$work/out" "bwc " "--version"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all bwc command line checks passed"
