#!/usr/bin/env bash
# Tests the Raspberry Pi board's shell helpers on this machine:
#   bwc-conf.sh     conf_get reads fields of camd.conf in any text-format layout
#   bwc-usb-gadget  show: the address and MACs derived from a board serial, the override
#   bwc-dock-watch  one offload per docking, retried with doubling delays up to the cap
#                   while docked, a flapping link ignored, undocking logged; driven by a
#                   carrier file and a stand-in bwc-camctl that answers from a script
#
# Usage: rpi_scripts_test.sh BOARD_RPI_DIR
set -euo pipefail
export LC_ALL=C

[ $# = 1 ] && [ -d "$1" ] || { echo "usage: rpi_scripts_test.sh BOARD_RPI_DIR" >&2; exit 2; }
rpi=$(cd "$1" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/bwc-rpi-scripts-test.XXXXXX")
watcher=""
cleanup() {
  [ -z "$watcher" ] || kill "$watcher" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
checks=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { checks=$((checks + 1)); }
expect_eq() { # expect_eq DESCRIPTION ACTUAL EXPECTED
  if [ "$2" = "$3" ]; then pass; else fail "$1: got '$2', expected '$3'"; fi
}

# ---------------------------------------------------------------------------------------
echo "== conf_get"
# shellcheck source=../../../board/rpi/bwc-conf.sh
. "$rpi/bwc-conf.sh"
for board in zero2w pi4 pi5; do
  expect_eq "$board dock.interface" "$(conf_get "$rpi/camd-$board.conf" dock.interface)" usb0
  expect_eq "$board dock.address" "$(conf_get "$rpi/camd-$board.conf" dock.address)" 169.254.0.1:7443
  expect_eq "$board control_socket" "$(conf_get "$rpi/camd-$board.conf" control_socket)" /run/bwc/camd.sock
done
cat >"$work/odd.conf" <<'EOF'
device_id: "a \"quoted\" id"  # a comment with dock { interface: "no" }
video < width: 640 height: 480 >
dock: { address: "10.0.0.1:" "7443", interface: 'usb1' }
identity { recipient_cert_paths: ["a.pem", "b.pem"] key_path: "k" }
hal { gpio_chip: "chip" } interface: "top"
EOF
expect_eq "escaped quotes" "$(conf_get "$work/odd.conf" device_id)" 'a "quoted" id'
expect_eq "angle brackets" "$(conf_get "$work/odd.conf" video.height)" 480
expect_eq "name: { }, adjacent strings" "$(conf_get "$work/odd.conf" dock.address)" 10.0.0.1:7443
expect_eq "single quotes after a comma" "$(conf_get "$work/odd.conf" dock.interface)" usb1
expect_eq "after a list" "$(conf_get "$work/odd.conf" identity.key_path)" k
expect_eq "a top-level field of the same name" "$(conf_get "$work/odd.conf" interface)" top
expect_eq "a field in a comment is not read" "$(conf_get "$work/odd.conf" dock.nothing)" ""
set +e
conf_get "$work/missing.conf" dock.interface 2>/dev/null
rc=$?
set -e
expect_eq "an unreadable file" "$rc" 2

# ---------------------------------------------------------------------------------------
echo "== bwc-usb-gadget show"
gadget=$rpi/bwc-usb-gadget
show() { "$gadget" show --config "$rpi/camd-pi4.conf" --env "$work/none.env" "$@"; }
a=$(show --serial 10000000a1b2c3d4)
b=$(show --serial 10000000a1b2c3d4)
c=$(show --serial 10000000a1b2c3d5)
expect_eq "the same serial gives the same link" "$a" "$b"
[ "$a" != "$c" ] && pass || fail "two serials give the same link: $a"
for out in "$a" "$c"; do
  addr=$(sed -n 's/^address: *//p' <<<"$out")
  [[ $addr =~ ^169\.254\.([0-9]+)\.([0-9]+)/16$ ]] && ((BASH_REMATCH[1] >= 1 && BASH_REMATCH[1] <= 254 &&
    BASH_REMATCH[2] >= 1 && BASH_REMATCH[2] <= 254)) && pass ||
    fail "address $addr is not in 169.254.1.1-169.254.254.254/16"
  cam=$(sed -n 's/^camera MAC: *//p' <<<"$out")
  dock=$(sed -n 's/^dock MAC: *//p' <<<"$out")
  [[ $cam =~ ^02(:[0-9a-f]{2}){5}$ && $dock =~ ^06(:[0-9a-f]{2}){5}$ && $cam != "$dock" ]] && pass ||
    fail "MACs $cam / $dock are not two distinct locally administered unicast addresses"
done
expect_eq "interface from the config" "$(sed -n 's/^interface: *//p' <<<"$a")" usb0
expect_eq "product names the device" "$(sed -n 's/^product: *//p' <<<"$a")" "bwc body-worn camera cam-0001"
# Addresses spread over the 64516 of the range: 8 cameras docked on one dock collide with
# a chance of about 0.04 %; these 16 serials do not.
addresses=$(for i in $(seq 16); do show --serial "1000000000000$i" | sed -n 's/^address: *//p'; done)
expect_eq "16 serials, 16 addresses" "$(sort -u <<<"$addresses" | wc -l)" 16
printf '# comment\nBWC_USB_ADDRESS=10.20.30.40/24\n' >"$work/ok.env"
expect_eq "BWC_USB_ADDRESS overrides" \
  "$("$gadget" show --serial x --env "$work/ok.env" --config "$rpi/camd-pi4.conf" | sed -n 's/^address: *//p')" 10.20.30.40/24
for bad in 'BWC_USB_ADDRESS=10.20.30.400/24' 'BWC_USB_ADDRESS=10.20.30.40' 'OTHER=1' 'BWC_USB_ADDRESS=10.0.0.1/31'; do
  echo "$bad" >"$work/bad.env"
  set +e
  msg=$("$gadget" show --serial x --env "$work/bad.env" 2>&1)
  rc=$?
  set -e
  [ "$rc" = 2 ] && grep -q "$work/bad.env\|BWC_USB_ADDRESS" <<<"$msg" && pass ||
    fail "'$bad' should be refused naming the setting (exit $rc: $msg)"
done

# ---------------------------------------------------------------------------------------
echo "== bwc-dock-watch"
# A stand-in bwc-camctl: each call appends "MILLISECONDS ARGS" to calls.log and answers
# with the next line of answers.txt ("EXIT|TEXT"); an empty list answers ok.
cat >"$work/camctl" <<EOF
#!/usr/bin/env bash
t=\${EPOCHREALTIME/./}
echo "\${t:0:\${#t}-3} \$*" >>"$work/calls.log"
line=\$(head -n1 "$work/answers.txt" 2>/dev/null || true)
sed -i 1d "$work/answers.txt" 2>/dev/null || true
[ -n "\$line" ] || line='0|{"ok":true,"dock_id":"dock-01","stored":2}'
[ "\${line%%|*}" = 0 ] && echo "\${line#*|}" || echo "bwc-camctl: \${line#*|}" >&2
exit "\${line%%|*}"
EOF
chmod +x "$work/camctl"
: >"$work/calls.log"
: >"$work/answers.txt"
echo 0 >"$work/carrier"
calls() { grep -c . "$work/calls.log" || true; }
wait_calls() { # wait_calls N: until N calls were made (10 s at most)
  local deadline=$((SECONDS + 10))
  while [ "$(calls)" -lt "$1" ] && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
}
gap_ms() { # gap_ms I J: milliseconds between call I and call J
  local ti tj
  ti=$(sed -n "${1}p" "$work/calls.log" | cut -d' ' -f1)
  tj=$(sed -n "${2}p" "$work/calls.log" | cut -d' ' -f1)
  echo $((tj - ti))
}

set +e
msg=$("$rpi/bwc-dock-watch" --config "$rpi/camd-pi4.conf" --camctl "$work/camctl" --poll abc 2>&1)
rc=$?
set -e
[ "$rc" = 2 ] && grep -q -- "--poll = 'abc'" <<<"$msg" && pass || fail "--poll abc: exit $rc: $msg"
set +e
msg=$("$rpi/bwc-dock-watch" --config "$work/nothere.conf" --camctl "$work/camctl" 2>&1)
rc=$?
set -e
[ "$rc" = 2 ] && grep -q "no camera configuration at $work/nothere.conf" <<<"$msg" && pass ||
  fail "a missing config: exit $rc: $msg"

"$rpi/bwc-dock-watch" --config "$rpi/camd-pi4.conf" --camctl "$work/camctl" \
  --carrier-file "$work/carrier" --poll 0.05 --settle 0.2 --backoff-initial 0.3 --backoff-max 1 \
  --dock-timeout 5 >"$work/watch.log" 2>&1 &
watcher=$!

sleep 0.6
expect_eq "no carrier, no offload" "$(calls)" 0

# Docked: bwc-camd not up yet, then recording, then the offload works.
printf '%s\n' '2|cannot connect to /run/bwc/camd.sock' '1|dock: recording in progress: stop recording before docking' \
  >"$work/answers.txt"
echo 1 >"$work/carrier"
wait_calls 3
expect_eq "three attempts until the offload worked" "$(calls)" 3
expect_eq "it asks bwc-camd on the configured socket" "$(head -n1 "$work/calls.log" | cut -d' ' -f2-)" \
  "--socket /run/bwc/camd.sock --timeout 5000 dock"
g1=$(gap_ms 1 2)
g2=$(gap_ms 2 3)
((g1 >= 300 && g1 < 2000)) && pass || fail "first retry after $g1 ms, expected 300 ms (backoff-initial)"
((g2 >= 600 && g2 < 2500)) && pass || fail "second retry after $g2 ms, expected 600 ms (doubled)"
sleep 1
expect_eq "once per docking: nothing more while docked" "$(calls)" 3
grep -q 'offload done after 3 attempt(s)' "$work/watch.log" && pass || fail "the success is not logged: $(cat "$work/watch.log")"
grep -q 'recording in progress' "$work/watch.log" && pass || fail "the failure's reason is not logged"

# Undocked and docked again: one more offload.
echo 0 >"$work/carrier"
sleep 0.3
echo 1 >"$work/carrier"
wait_calls 4
sleep 0.5
expect_eq "docked again: one more offload" "$(calls)" 4

# A link that flaps shorter than --settle starts nothing.
echo 0 >"$work/carrier"
sleep 0.3
echo 1 >"$work/carrier"
sleep 0.08
echo 0 >"$work/carrier"
sleep 0.6
expect_eq "a flap shorter than the settle time" "$(calls)" 4

# Failing on and on: the delay doubles up to --backoff-max; undocking ends it.
printf '2|no bwc-camd\n%.0s' 1 2 3 4 5 6 >"$work/answers.txt"
echo 1 >"$work/carrier"
wait_calls 9
g=$(gap_ms 8 9)
((g >= 1000 && g < 2500)) && pass || fail "the delay is capped at backoff-max (1 s): $g ms"
g=$(gap_ms 7 8)
((g >= 1000 && g < 2500)) && pass || fail "the delay stays at backoff-max: $g ms"
echo 0 >"$work/carrier"
sleep 0.4
grep -q 'undocked before an offload succeeded (5 attempt(s))' "$work/watch.log" && pass ||
  fail "undocking during retries is not logged: $(tail -n3 "$work/watch.log")"

# A dock that refuses (a chain alarm) is not asked again until the next docking.
: >"$work/answers.txt"
echo '0|{"ok":true,"dock_id":"dock-01","refused":"GAP: seq 7 missing"}' >"$work/answers.txt"
echo 1 >"$work/carrier"
wait_calls 10
sleep 0.8
expect_eq "a refusal is not retried" "$(calls)" 10
grep -q 'the dock refused: GAP: seq 7 missing' "$work/watch.log" && pass || fail "the refusal is not logged"

kill -TERM "$watcher"
set +e
wait "$watcher"
rc=$?
set -e
watcher=""
expect_eq "SIGTERM ends it with status 0" "$rc" 0

echo "rpi_scripts_test: $checks checks passed, $failures failed"
[ "$failures" = 0 ]
