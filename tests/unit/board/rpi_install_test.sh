#!/usr/bin/env bash
# Tests board/rpi/install on small fake Raspberry Pi OS images built here with the real
# layout (an MBR with a FAT boot partition and an ext4 root partition, made with sfdisk,
# mkfs.vfat + mtools and mkfs.ext4 -d from folders: no loop device, no mount, no root),
# then reads the result back out of the image file with debugfs and mtools: files, modes,
# owners, the user and its groups, the enabled units (checked with systemd-analyze
# verify), config.txt and cmdline.txt, the PKI copied and nothing secret beside it; a
# second run changes nothing; bad inputs are refused before the image is touched.
#
# Usage: rpi_install_test.sh --source DIR --bwc PATH --camd PATH
#   --source DIR   the project's source tree
#   --bwc PATH     a host build of bwc (makes the test PKI)
#   --camd PATH    a host build of bwc-camd (checks the installed camd.conf)
#   -h, --help     this text
set -euo pipefail
export LC_ALL=C

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
source_dir=""
bwc=""
camd=""
while [ $# -gt 0 ]; do
  case "$1" in
    --source|--bwc|--camd)
      [ $# -ge 2 ] || { echo "rpi_install_test: $1 needs a value" >&2; exit 2; }
      case "$1" in --source) source_dir=$2 ;; --bwc) bwc=$2 ;; --camd) camd=$2 ;; esac
      shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "rpi_install_test: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$source_dir" ] && [ -x "$bwc" ] && [ -x "$camd" ] ||
  { echo "rpi_install_test: give --source, --bwc and --camd (see --help)" >&2; exit 2; }

for tool in sfdisk mkfs.vfat mcopy mmd mdir mkfs.ext4 debugfs e2fsck readelf openssl python3 systemd-analyze; do
  command -v "$tool" >/dev/null ||
    { echo "rpi_install_test: $tool is missing; run scripts/setup" >&2; exit 1; }
done

install=$source_dir/board/rpi/install
make_elf=$source_dir/tests/unit/board/make_elf.py
work=$(mktemp -d "${TMPDIR:-/tmp}/bwc-rpi-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
export MTOOLS_SKIP_CHECK=1
failures=0
checks=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { checks=$((checks + 1)); }
check() { # check DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then pass; else fail "$what"; fi
}
timed() { timeout --kill-after=10 120 "$@"; }

# ---------------------------------------------------------------------------------------
# A fake Raspberry Pi OS image. $1: output; $2: "arm64" or "armhf" (no aarch64 libs).
make_image() {
  local out=$1 arch=$2 tree=$work/tree.$RANDOM
  mkdir -p "$tree/root/etc/systemd/system/multi-user.target.wants" "$tree/root/etc/NetworkManager/conf.d" \
    "$tree/root/usr/sbin" "$tree/root/usr/local/bin" "$tree/root/usr/lib" "$tree/root/var/lib" \
    "$tree/boot/overlays"
  if [ "$arch" = arm64 ]; then
    mkdir -p "$tree/root/usr/lib/aarch64-linux-gnu"
    for lib in libc.so.6 libavcodec.so.59 libcamera.so.0.3 libstdc++.so.6; do
      echo "$lib" >"$tree/root/usr/lib/aarch64-linux-gnu/$lib"
    done
    echo ld >"$tree/root/usr/lib/ld-linux-aarch64.so.1"
  else
    mkdir -p "$tree/root/usr/lib/arm-linux-gnueabihf"
  fi
  ln -s usr/lib "$tree/root/lib"
  printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n' \
    >"$tree/root/etc/os-release"
  cat >"$tree/root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin
pi:x:1000:1000:,,,:/home/pi:/bin/bash
EOF
  cat >"$tree/root/etc/group" <<'EOF'
root:x:0:
shadow:x:42:
audio:x:29:pi
video:x:44:pi
gpio:x:997:pi
systemd-network:x:998:
input:x:999:
pi:x:1000:
EOF
  printf 'root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\nsystemd-network:!*:19000::::::\npi:$y$j9T$x:19000:0:99999:7:::\n' \
    >"$tree/root/etc/shadow"
  printf 'root:*::\nshadow:*::\naudio:*::pi\nvideo:*::pi\ngpio:!::pi\nsystemd-network:!::\ninput:!::\npi:!::\n' \
    >"$tree/root/etc/gshadow"
  printf 'hostname\nclientid\npersistent\n' >"$tree/root/etc/dhcpcd.conf"
  echo nologin >"$tree/root/usr/sbin/nologin"
  ln -s /lib/systemd/system/ssh.service "$tree/root/etc/systemd/system/multi-user.target.wants/ssh.service"
  mkfs.ext4 -q -F -L rootfs -N 2048 -d "$tree/root" "$work/root.ext4" 48M >/dev/null
  printf 'sif /etc/shadow mode 0100640\nsif /etc/shadow gid 42\nsif /etc/gshadow mode 0100640\nsif /etc/gshadow gid 42\n' \
    >"$work/perm.cmd"
  debugfs -w -f "$work/perm.cmd" "$work/root.ext4" >/dev/null 2>&1

  printf '%s\n' '# For more options and information see' 'dtparam=audio=on' 'camera_auto_detect=1' \
    'display_auto_detect=1' 'arm_64bit=1' '' '[cm4]' 'otg_mode=1' '' '[all]' >"$tree/boot/config.txt"
  echo 'console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait quiet splash' \
    >"$tree/boot/cmdline.txt"
  echo dtbo >"$tree/boot/overlays/dwc2.dtbo"
  echo dtbo >"$tree/boot/overlays/googlevoicehat-soundcard.dtbo"
  rm -f "$work/boot.fat"
  mkfs.vfat -C -n BOOTFS "$work/boot.fat" 16384 >/dev/null
  mcopy -i "$work/boot.fat" "$tree/boot/config.txt" "$tree/boot/cmdline.txt" ::
  mmd -i "$work/boot.fat" ::overlays
  mcopy -i "$work/boot.fat" "$tree/boot/overlays/dwc2.dtbo" "$tree/boot/overlays/googlevoicehat-soundcard.dtbo" ::overlays/

  # Raspberry Pi OS's layout: boot from sector 8192, root after it.
  rm -f "$out"
  truncate -s $(((8192 + 32768 + 98304 + 2048) * 512)) "$out"
  printf 'label: dos\nlabel-id: 0x4e639091\nstart=8192, size=32768, type=c\nstart=40960, size=98304, type=83\n' |
    sfdisk -q "$out"
  dd if="$work/boot.fat" of="$out" bs=512 seek=8192 conv=notrunc status=none
  dd if="$work/root.ext4" of="$out" bs=512 seek=40960 conv=notrunc status=none
  rm -rf "$tree" "$work/root.ext4" "$work/boot.fat"
}

# Reading an image back.
root_of() { echo "$1?offset=$((40960 * 512))"; }
boot_of() { echo "$1@@$((8192 * 512))"; }
rootcat() { debugfs -R "cat $2" "$(root_of "$1")" 2>/dev/null; }
# "MODE UID GID" of a path, from its folder's listing.
rootstat() {
  local dir name
  dir=$(dirname "$2")
  name=$(basename "$2")
  debugfs -R "ls -p $dir/" "$(root_of "$1")" 2>/dev/null |
    awk -F/ -v n="$name" '$6 == n { print $3, $4, $5; exit }'
}
linktarget() {
  debugfs -R "stat $2" "$(root_of "$1")" 2>/dev/null | sed -n 's/^Fast link dest: "\(.*\)"$/\1/p'
}
bootcat() { mtype -i "$(boot_of "$1")" "::$2"; }

# ---------------------------------------------------------------------------------------
echo "== building the inputs: a PKI, fake arm64 binaries, images"
pki=$work/pki
timed "$bwc" pki init "$pki" --agency "Test Agency" >/dev/null
timed "$bwc" pki issue-device "$pki" cam-0042 >/dev/null
timed "$bwc" pki issue-recipient "$pki" aek >/dev/null
timed "$bwc" pki issue-recipient "$pki" escrow >/dev/null
bins=$work/bin
mkdir -p "$bins"
python3 "$make_elf" "$bins/bwc-camd" --machine aarch64 libc.so.6 libstdc++.so.6 libavcodec.so.59 libcamera.so.0.3
python3 "$make_elf" "$bins/bwc-camctl" --machine aarch64 libc.so.6 libstdc++.so.6
image=$work/raspios.img
make_image "$image" arm64
cp "$image" "$work/pristine.img"

run_install() { # run_install LOG ARGS...; the exit status of install
  local log=$1
  shift
  set +e
  timed "$install" "$@" >"$log" 2>&1
  local rc=$?
  set -e
  return $rc
}

echo "== install on the Pi 4 image, provisioned"
start=$(date +%s%N)
if run_install "$work/install1.log" --image "$image" --board pi4 --bin-dir "$bins" \
  --device-id cam-0042 --pki "$pki" --check-config "$camd"; then
  pass
else
  fail "install exited with an error:"; cat "$work/install1.log" >&2
fi
echo "   install took $((($(date +%s%N) - start) / 1000000)) ms"

check "the root file system is clean (e2fsck -fn)" e2fsck -fn "$(root_of "$image")" >/dev/null 2>&1
check "bwc-camd is the given binary" cmp -s "$bins/bwc-camd" <(rootcat "$image" /usr/local/bin/bwc-camd)
check "bwc-camctl is the given binary" cmp -s "$bins/bwc-camctl" <(rootcat "$image" /usr/local/bin/bwc-camctl)
check "bwc-camd: 0755 root" test "$(rootstat "$image" /usr/local/bin/bwc-camd)" = "100755 0 0"
for s in bwc-usb-gadget bwc-dock-watch; do
  check "$s installed, 0755" test "$(rootstat "$image" /usr/local/lib/bwc/$s)" = "100755 0 0"
  check "$s is the board's script" cmp -s "$source_dir/board/rpi/$s" <(rootcat "$image" /usr/local/lib/bwc/$s)
done
check "bwc-conf.sh installed" cmp -s "$source_dir/board/rpi/bwc-conf.sh" <(rootcat "$image" /usr/local/lib/bwc/bwc-conf.sh)
check "the watermark font installed" test "$(rootstat "$image" /usr/local/share/bwc/DejaVuSansMono-Bold.ttf)" = "100644 0 0"

# The user: the highest id free as both user and group below 1000 (999 is a group, 998 a
# user, 997 a group here): 996.
passwd=$(rootcat "$image" /etc/passwd)
group=$(rootcat "$image" /etc/group)
check "passwd has bwc-camd 996:996 without a login" \
  grep -qx 'bwc-camd:x:996:996:bwc camera daemon:/var/lib/bwc:/usr/sbin/nologin' <<<"$passwd"
check "passwd keeps its other users" grep -qx 'pi:x:1000:1000:,,,:/home/pi:/bin/bash' <<<"$passwd"
check "group bwc-camd 996" grep -qx 'bwc-camd:x:996:' <<<"$group"
for g in 'audio:x:29:pi,bwc-camd' 'video:x:44:pi,bwc-camd' 'gpio:x:997:pi,bwc-camd'; do
  check "group line $g" grep -qx "$g" <<<"$group"
done
check "shadow: bwc-camd locked" grep -Eq '^bwc-camd:!:[0-9]+::::::$' <<<"$(rootcat "$image" /etc/shadow)"
check "shadow keeps mode 0640 root:shadow" test "$(rootstat "$image" /etc/shadow)" = "100640 0 42"
gshadow=$(rootcat "$image" /etc/gshadow)
check "gshadow: bwc-camd and memberships" \
  bash -c 'grep -qx "bwc-camd:!::" <<<"$1" && grep -qx "video:\*::pi,bwc-camd" <<<"$1" && grep -qx "gpio:!::pi,bwc-camd" <<<"$1"' _ "$gshadow"

# The configuration and the PKI.
conf=$(rootcat "$image" /etc/bwc/camd.conf)
check "camd.conf: device_id set" grep -qx 'device_id: "cam-0042"' <<<"$conf"
check "camd.conf: both recipients" \
  test "$(grep -c 'recipient_cert_paths: "pki/recipients/\(aek\|escrow\)\.pem"' <<<"$conf")" = 2
check "camd.conf: the Pi 4's GPIO chip" grep -q 'gpio_chip: "pinctrl-bcm2711"' <<<"$conf"
check "camd.conf: 0640 bwc-camd" test "$(rootstat "$image" /etc/bwc/camd.conf)" = "100640 996 996"
check "/etc/bwc: 0750 bwc-camd" test "$(rootstat "$image" /etc/bwc)" = "040750 996 996"
check "device.key is the device's key, 0600 bwc-camd" \
  bash -c 'cmp -s "$1" <(debugfs -R "cat /etc/bwc/pki/device.key" "$2" 2>/dev/null) && [ "$3" = "100600 996 996" ]' \
  _ "$pki/devices/cam-0042.key" "$(root_of "$image")" "$(rootstat "$image" /etc/bwc/pki/device.key)"
for f in device.pem:devices/cam-0042.pem ca.pem:ca.pem crl.pem:crl.pem recipients/aek.pem:recipients/aek.pem \
  recipients/escrow.pem:recipients/escrow.pem; do
  check "pki/${f%%:*} copied" cmp -s "$pki/${f#*:}" <(rootcat "$image" "/etc/bwc/pki/${f%%:*}")
done
mkdir -p "$work/etc-bwc"
debugfs -R "rdump /etc/bwc $work/etc-bwc" "$(root_of "$image")" >/dev/null 2>&1
check "no private key in /etc/bwc but the device's" \
  test "$(grep -rl 'PRIVATE KEY' "$work/etc-bwc" | sed "s|$work/etc-bwc/||")" = "bwc/pki/device.key"
check "the installed camd.conf passes bwc-camd --check-config" \
  "$camd" --config "$work/etc-bwc/bwc/camd.conf" --check-config >/dev/null

# Units, enabled; the gadget's helpers.
for u in bwc-camd bwc-usb-gadget bwc-dock-watch; do
  check "$u.service installed" cmp -s "$source_dir/board/rpi/systemd/$u.service" \
    <(rootcat "$image" /etc/systemd/system/$u.service)
  check "$u.service enabled" \
    test "$(linktarget "$image" /etc/systemd/system/multi-user.target.wants/$u.service)" = "/etc/systemd/system/$u.service"
done
check "other enabled units stay" \
  test "$(linktarget "$image" /etc/systemd/system/multi-user.target.wants/ssh.service)" = /lib/systemd/system/ssh.service
check "libcomposite loaded at boot" test "$(rootcat "$image" /etc/modules-load.d/bwc-usb-gadget.conf)" = libcomposite
check "NetworkManager leaves usb0 alone" \
  grep -qx 'unmanaged-devices=interface-name:usb0' <<<"$(rootcat "$image" /etc/NetworkManager/conf.d/bwc-usb-gadget.conf)"
check "dhcpcd leaves usb0 alone" grep -qx 'denyinterfaces usb0' <<<"$(rootcat "$image" /etc/dhcpcd.conf)"

# systemd-analyze verify on the installed tree (the image's units and executables, this
# machine's systemd units for the targets they name).
vroot=$work/vroot
mkdir -p "$vroot/etc/systemd" "$vroot/usr/local" "$vroot/usr/lib/systemd"
debugfs -R "rdump /etc/systemd/system $vroot/etc/systemd" "$(root_of "$image")" >/dev/null 2>&1
debugfs -R "rdump /usr/local/bin $vroot/usr/local" "$(root_of "$image")" >/dev/null 2>&1
debugfs -R "rdump /usr/local/lib $vroot/usr/local" "$(root_of "$image")" >/dev/null 2>&1
cp -a /lib/systemd/system "$vroot/usr/lib/systemd/"
verify=$(systemd-analyze verify --root="$vroot" /etc/systemd/system/bwc-camd.service \
  /etc/systemd/system/bwc-usb-gadget.service /etc/systemd/system/bwc-dock-watch.service 2>&1) &&
  [ -z "$verify" ] && pass || fail "systemd-analyze verify: $verify"
for u in bwc-camd bwc-usb-gadget bwc-dock-watch; do
  echo "   $(systemd-analyze security --offline=yes --root="$vroot" /etc/systemd/system/$u.service 2>/dev/null | tail -n1)"
done

# The boot partition.
config=$(bootcat "$image" config.txt)
check "config.txt keeps its own lines" \
  bash -c 'grep -qx "otg_mode=1" <<<"$1" && grep -qx "dtparam=audio=on" <<<"$1" && grep -qx "\[cm4\]" <<<"$1"' _ "$config"
check "config.txt: dwc2 in device mode, once" test "$(grep -cx 'dtoverlay=dwc2,dr_mode=peripheral' <<<"$config")" = 1
check "config.txt: the I2S sound card, once" test "$(grep -cx 'dtoverlay=googlevoicehat-soundcard' <<<"$config")" = 1
check "config.txt: the bwc block starts with [all] and ends the file" \
  bash -c 'grep -A1 -x "# --- bwc (board/rpi/install): begin ---" <<<"$1" | tail -n1 | grep -qx "\[all\]" &&
    [ "$(tail -n1 <<<"$1")" = "# --- bwc: end ---" ]' _ "$config"
cmdline=$(bootcat "$image" cmdline.txt)
check "cmdline.txt is one line" test "$(wc -l <<<"$cmdline")" = 1
check "cmdline.txt keeps its arguments in order, then modules-load=dwc2 cgroup_enable=memory" \
  test "$cmdline" = 'console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait quiet splash modules-load=dwc2 cgroup_enable=memory'

# ---------------------------------------------------------------------------------------
echo "== the same install again changes nothing"
snapshot() {
  {
    for p in /etc/passwd /etc/group /etc/shadow /etc/gshadow /etc/dhcpcd.conf /etc/bwc/camd.conf \
      /etc/bwc/pki/device.key /usr/local/bin/bwc-camd; do
      echo "$p $(rootstat "$1" "$p") $(rootcat "$1" "$p" | sha256sum)"
    done
    debugfs -R "ls -p /etc/bwc/pki/recipients/" "$(root_of "$1")" 2>/dev/null | awk -F/ '{ print $3, $4, $5, $6 }'
    bootcat "$1" config.txt
    bootcat "$1" cmdline.txt
  }
}
snapshot "$image" >"$work/snap1"
run_install "$work/install2.log" --image "$image" --board pi4 --bin-dir "$bins" \
  --device-id cam-0042 --pki "$pki" && pass || fail "second install: $(cat "$work/install2.log")"
snapshot "$image" >"$work/snap2"
check "a second run leaves the same files, users, config.txt and cmdline.txt" cmp -s "$work/snap1" "$work/snap2"
check "still clean (e2fsck -fn)" e2fsck -fn "$(root_of "$image")" >/dev/null 2>&1

echo "== provisioning again with one recipient drops the other; without --pki keeps them"
run_install "$work/install3.log" --image "$image" --board pi4 --bin-dir "$bins" \
  --device-id cam-0042 --pki "$pki" --recipient aek && pass || fail "install --recipient aek: $(cat "$work/install3.log")"
conf=$(rootcat "$image" /etc/bwc/camd.conf)
check "camd.conf names aek only" test "$(grep -c recipient_cert_paths <<<"$conf")" = 1
check "recipients/escrow.pem is gone" test -z "$(rootstat "$image" /etc/bwc/pki/recipients/escrow.pem)"
run_install "$work/install4.log" --image "$image" --board pi5 --bin-dir "$bins" --device-id cam-0042 &&
  pass || fail "install without --pki: $(cat "$work/install4.log")"
conf=$(rootcat "$image" /etc/bwc/camd.conf)
check "without --pki the provisioned recipient stays in camd.conf" \
  grep -qx '  recipient_cert_paths: "pki/recipients/aek.pem"' <<<"$conf"
check "the key stays" cmp -s "$pki/devices/cam-0042.key" <(rootcat "$image" /etc/bwc/pki/device.key)
check "Pi 5: libx264 and the RP1's GPIO chip" \
  bash -c 'grep -q "encoder: \"libx264\"" <<<"$1" && grep -q "gpio_chip: \"pinctrl-rp1\"" <<<"$1"' _ "$conf"

echo "== an unprovisioned Zero 2 W image, with the USB address and dock address given"
cp "$work/pristine.img" "$work/zero.img"
run_install "$work/install5.log" --image "$work/zero.img" --board zero2w --bin-dir "$bins" \
  --device-id cam-0100 --usb-address 169.254.10.2/16 --dock-address 169.254.0.1:7444 --check-config "$camd" &&
  pass || fail "zero2w install: $(cat "$work/install5.log")"
check "no pki folder" test -z "$(rootstat "$work/zero.img" /etc/bwc/pki)"
check "usb-gadget.env has the address" \
  grep -qx 'BWC_USB_ADDRESS=169.254.10.2/16' <<<"$(rootcat "$work/zero.img" /etc/bwc/usb-gadget.env)"
conf=$(rootcat "$work/zero.img" /etc/bwc/camd.conf)
check "Zero 2 W: dock address, h264_v4l2m2m, BCM2835 chip" \
  bash -c 'grep -q "address: \"169.254.0.1:7444\"" <<<"$1" && grep -q h264_v4l2m2m <<<"$1" && grep -q pinctrl-bcm2835 <<<"$1"' _ "$conf"

# ---------------------------------------------------------------------------------------
echo "== refusals leave the image untouched"
refuses() { # refuses DESCRIPTION EXPECTED-TEXT IMAGE ARGS...
  local what=$1 text=$2 img=$3 before rc
  shift 3
  before=$(sha256sum <"$img")
  set +e
  timed "$install" --image "$img" "$@" >"$work/refusal.log" 2>&1
  rc=$?
  set -e
  if [ "$rc" = 0 ]; then
    fail "$what: install succeeded"
  elif ! grep -qF -- "$text" "$work/refusal.log"; then
    fail "$what: the message does not say '$text': $(cat "$work/refusal.log")"
  elif [ "$before" != "$(sha256sum <"$img")" ]; then
    fail "$what: the image was changed"
  else
    pass
  fi
}
cp "$work/pristine.img" "$work/target.img"
common=(--board pi4 --device-id cam-0042 --pki "$pki")
x86=$work/x86
mkdir -p "$x86"
python3 "$make_elf" "$x86/bwc-camd" --machine x86_64 --interp /lib64/ld-linux-x86-64.so.2 libc.so.6
cp "$bins/bwc-camctl" "$x86/"
refuses "an x86-64 bwc-camd" "not AArch64" "$work/target.img" "${common[@]}" --bin-dir "$x86"
nolib=$work/nolib
mkdir -p "$nolib"
python3 "$make_elf" "$nolib/bwc-camd" --machine aarch64 libc.so.6 libcamera.so.0.5
cp "$bins/bwc-camctl" "$nolib/"
refuses "a library the image lacks" "bwc-camd needs libcamera.so.0.5" "$work/target.img" "${common[@]}" --bin-dir "$nolib"
refuses "a device without a certificate" "bwc pki issue-device" "$work/target.img" --board pi4 \
  --device-id cam-0043 --pki "$pki" --bin-dir "$bins"
cp "$pki/devices/cam-0042.pem" "$pki/devices/cam-0044.pem"
cp "$pki/devices/cam-0042.key" "$pki/devices/cam-0044.key"
refuses "a certificate for another device" "names device 'cam-0042'" "$work/target.img" --board pi4 \
  --device-id cam-0044 --pki "$pki" --bin-dir "$bins"
rm "$pki/devices/cam-0044.pem" "$pki/devices/cam-0044.key"
refuses "a recipient that is not there" "recipients/nobody.pem is missing" "$work/target.img" "${common[@]}" \
  --bin-dir "$bins" --recipient nobody
cp "$pki/recipients/aek.key" "$work/aek-and-cert.pem"
cat "$pki/recipients/aek.pem" >>"$work/aek-and-cert.pem"
cp "$work/aek-and-cert.pem" "$pki/recipients/leaky.pem"
refuses "a recipient file holding a private key" "refusing to copy it" "$work/target.img" "${common[@]}" \
  --bin-dir "$bins" --recipient leaky
rm "$pki/recipients/leaky.pem"
refuses "an unknown board" "unknown board" "$work/target.img" --board pi3 --device-id cam-0042 --bin-dir "$bins"
refuses "a device id with a quote" "--device-id" "$work/target.img" --board pi4 --device-id 'cam"1' --bin-dir "$bins"
make_image "$work/armhf.img" armhf
refuses "a 32-bit image" "32-bit" "$work/armhf.img" "${common[@]}" --bin-dir "$bins"
head -c 1048576 /dev/zero >"$work/blank.img"
refuses "a file without partitions" "no partition table" "$work/blank.img" "${common[@]}" --bin-dir "$bins"
run_install "$work/install6.log" --image "$work/target.img" "${common[@]}" --bin-dir "$nolib" --allow-missing-libs &&
  grep -q "warning: the image lacks shared libraries" "$work/install6.log" && pass ||
  fail "--allow-missing-libs installs with a warning: $(cat "$work/install6.log")"

echo "rpi_install_test: $checks checks passed, $failures failed"
[ "$failures" = 0 ]
