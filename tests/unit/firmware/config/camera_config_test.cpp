#include "firmware/config/camera_config.h"

#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "common/base/file.h"
#include "tests/unit/common/base/temp_dir.h"

namespace {

using bwc::Errc;
using bwc::test::TempDir;
using bwc::v1::CameraConfig;

// The smallest valid file: only what has no default.
const std::string kMinimal = "format_version: 1\n"
                             "device_id: \"CAM-0042\"\n"
                             "storage { path: \"clips\" }\n"
                             "identity {\n"
                             "  key_path: \"device.key\"\n"
                             "  cert_path: \"device.pem\"\n"
                             "  ca_path: \"ca.pem\"\n"
                             "  recipient_cert_paths: \"aek.pem\"\n"
                             "}\n";
// sha256sum of kMinimal, computed outside the project.
const std::string kMinimalSha256 =
    "f0b1f64175f15a9f6897942ce639adeda2045a5af5eb5bda63211881ed72b996";

const std::string kFull = R"(# a board file with every field set
format_version: 1
device_id: "CAM-0042"
video {
  source: "file"
  device: "media/clip.mp4"
  width: 1920
  height: 1080
  fps: 25
  bitrate_kbps: 6000
  encoder: "h264_v4l2m2m"
  pixel_format: "NV12"
  preset: "ultrafast"
}
audio {
  enabled: true
  source: "alsa"
  capture_device: "hw:1,0"
  sample_rate: 44100
  bitrate_kbps: 128
}
prerecord {
  seconds: 30
  max_bytes: 33554432
  include_audio: true
}
hal {
  backend: "gpiod"
  gpio_chip: "gpiochip0"
  button_line: "REC_BTN"
  record_led_line: "REC_LED"
  status_led_line: "STATUS_LED"
  haptic_line: "HAPTIC"
  tone_device: "hw:0,0"
  long_press_ms: 2500
}
storage {
  path: "../data/clips"
  warn_percent: 80
  reserve_bytes: 134217728
}
identity {
  key_path: "keys/device.key"
  cert_path: "keys/device.pem"
  ca_path: "/etc/bwc/ca.pem"
  crl_path: "keys/crl.pem"
  recipient_cert_paths: "keys/aek.pem"
  recipient_cert_paths: "keys/escrow.pem"
  counter_path: "state/counter"
}
dock {
  address: "dock.local:4433"
  interface: "usb0"
}
max_clip_seconds: 3600
location: "replay:tracks/walk.csv"
font_path: "fonts/mono.ttf"
control_socket: "run/camd.sock"
)";

// A valid config with defaults applied, to break one field at a time.
CameraConfig validConfig()
{
    CameraConfig c;
    c.set_format_version(1);
    c.set_device_id("CAM-0042");
    c.mutable_storage()->set_path("/data/clips");
    auto *id = c.mutable_identity();
    id->set_key_path("/etc/bwc/device.key");
    id->set_cert_path("/etc/bwc/device.pem");
    id->set_ca_path("/etc/bwc/ca.pem");
    id->add_recipient_cert_paths("/etc/bwc/aek.pem");
    bwc::fw::applyCameraDefaults(c);
    return c;
}

// Validates and returns the error message ("" when valid).
std::string problems(const CameraConfig &c)
{
    auto r = bwc::fw::validateCameraConfig(c, "camd.conf");
    if (r)
        return "";
    CHECK(r.error().code == Errc::Config);
    return r.error().message;
}

size_t lineCount(const std::string &s)
{
    return s.empty() ? 0 : size_t(std::count(s.begin(), s.end(), '\n')) + 1;
}

struct Rule {
    std::string phrase; // "FIELD = VALUE" as it must appear after "camd.conf: "
    std::function<void(CameraConfig &)> breakIt;
};

} // namespace

TEST_CASE("a full valid config parses with every value and its paths resolved")
{
    TempDir dir;
    std::string path = dir.write("board/camd.conf", kFull);
    auto loaded = bwc::fw::loadCameraConfig(path);
    REQUIRE(loaded);
    const CameraConfig &c = loaded->config;
    const std::string base = dir.path() + "/board/";
    CHECK(loaded->path == path);
    CHECK(c.device_id() == "CAM-0042");
    CHECK(c.video().source() == "file");
    CHECK(c.video().device() == base + "media/clip.mp4");
    CHECK(c.video().width() == 1920);
    CHECK(c.video().height() == 1080);
    CHECK(c.video().fps() == 25);
    CHECK(c.video().bitrate_kbps() == 6000);
    CHECK(c.video().encoder() == "h264_v4l2m2m");
    CHECK(c.video().pixel_format() == "NV12");
    CHECK(c.video().preset() == "ultrafast");
    CHECK(c.audio().enabled());
    CHECK(c.audio().capture_device() == "hw:1,0");
    CHECK(c.audio().sample_rate() == 44100);
    CHECK(c.audio().bitrate_kbps() == 128);
    CHECK(c.prerecord().seconds() == 30);
    CHECK(c.prerecord().max_bytes() == 33554432);
    CHECK(c.prerecord().include_audio());
    CHECK(c.hal().backend() == "gpiod");
    CHECK(c.hal().long_press_ms() == 2500);
    CHECK(c.hal().tone_device() == "hw:0,0");
    CHECK(c.storage().path() == dir.path() + "/data/clips"); // "../" normalised away
    CHECK(c.storage().warn_percent() == 80);
    CHECK(c.storage().reserve_bytes() == 134217728);
    CHECK(c.identity().key_path() == base + "keys/device.key");
    CHECK(c.identity().cert_path() == base + "keys/device.pem");
    CHECK(c.identity().ca_path() == "/etc/bwc/ca.pem"); // absolute paths stay
    CHECK(c.identity().crl_path() == base + "keys/crl.pem");
    REQUIRE(c.identity().recipient_cert_paths_size() == 2);
    CHECK(c.identity().recipient_cert_paths(0) == base + "keys/aek.pem");
    CHECK(c.identity().recipient_cert_paths(1) == base + "keys/escrow.pem");
    CHECK(c.identity().counter_path() == base + "state/counter");
    CHECK(c.dock().address() == "dock.local:4433");
    CHECK(c.dock().interface() == "usb0");
    CHECK(c.max_clip_seconds() == 3600);
    CHECK(c.location() == "replay:" + base + "tracks/walk.csv");
    CHECK(c.font_path() == base + "fonts/mono.ttf");
    CHECK(c.control_socket() == base + "run/camd.sock");
}

TEST_CASE("a minimal config gets every default")
{
    TempDir dir;
    auto loaded = bwc::fw::loadCameraConfig(dir.write("camd.conf", kMinimal));
    REQUIRE(loaded);
    const CameraConfig &c = loaded->config;
    CHECK(c.video().source() == "synthetic");
    CHECK(c.video().device().empty());
    CHECK(c.video().width() == 1280);
    CHECK(c.video().height() == 720);
    CHECK(c.video().fps() == 30);
    CHECK(c.video().bitrate_kbps() == 4000);
    CHECK(c.video().encoder() == "libx264");
    CHECK(c.video().preset() == "veryfast");
    CHECK(c.video().pixel_format().empty());
    CHECK_FALSE(c.audio().enabled());
    CHECK(c.audio().source() == "synthetic");
    CHECK(c.audio().sample_rate() == 48000);
    CHECK(c.audio().bitrate_kbps() == 96);
    CHECK(c.prerecord().has_seconds());
    CHECK(c.prerecord().seconds() == 120);
    CHECK(c.prerecord().max_bytes() == 0);
    CHECK(c.hal().backend() == "sim");
    CHECK(c.hal().long_press_ms() == 3000);
    CHECK(c.storage().path() == dir.path() + "/clips");
    CHECK(c.storage().warn_percent() == 90);
    CHECK(c.storage().reserve_bytes() == 64u << 20);
    CHECK(c.identity().counter_path() == dir.path() + "/clips/counter");
    CHECK(c.max_clip_seconds() == 14400);
    CHECK(c.location().empty());
    CHECK(c.font_path() == "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf");
    CHECK(c.control_socket() == "/run/bwc/camd.sock");
    CHECK(c.dock().address().empty());
}

TEST_CASE("relative paths resolve against the folder of a relative config path")
{
    TempDir dir;
    dir.write("camd.conf", kMinimal);
    auto cwd = std::filesystem::current_path();
    std::filesystem::current_path(dir.path());
    auto loaded = bwc::fw::loadCameraConfig("camd.conf");
    std::filesystem::current_path(cwd);
    REQUIRE(loaded);
    CHECK(loaded->path == "camd.conf");
    CHECK(loaded->config.storage().path() ==
          std::filesystem::canonical(dir.path()).string() + "/clips");
    CHECK(loaded->config.identity().key_path() ==
          std::filesystem::canonical(dir.path()).string() + "/device.key");
}

TEST_CASE("sha256 is the hash of the file's exact bytes")
{
    TempDir dir;
    auto loaded = bwc::fw::loadCameraConfig(dir.write("camd.conf", kMinimal));
    REQUIRE(loaded);
    CHECK(bwc::toHex(loaded->sha256) == kMinimalSha256);

    // A comment changes the bytes and so the hash, not the config.
    auto commented = bwc::fw::loadCameraConfig(dir.write("b.conf", "# note\n" + kMinimal));
    REQUIRE(commented);
    CHECK(commented->sha256.size() == 32);
    CHECK(commented->sha256 != loaded->sha256);
    CHECK(commented->config.device_id() == loaded->config.device_id());
}

TEST_CASE("prerecord.seconds: absent means 120, an explicit 0 stays 0")
{
    TempDir dir;
    auto absent = bwc::fw::loadCameraConfig(dir.write("a.conf", kMinimal + "prerecord { }\n"));
    REQUIRE(absent);
    CHECK(absent->config.prerecord().seconds() == 120);

    auto zero =
        bwc::fw::loadCameraConfig(dir.write("z.conf", kMinimal + "prerecord { seconds: 0 }\n"));
    REQUIRE(zero);
    CHECK(zero->config.prerecord().has_seconds());
    CHECK(zero->config.prerecord().seconds() == 0);

    auto some =
        bwc::fw::loadCameraConfig(dir.write("s.conf", kMinimal + "prerecord { seconds: 45 }\n"));
    REQUIRE(some);
    CHECK(some->config.prerecord().seconds() == 45);
}

TEST_CASE("a syntax error is reported as FILE:LINE:COL")
{
    TempDir dir;
    std::string path = dir.write("camd.conf", "format_version: 1\n"
                                              "device_id: \"CAM-1\"\n"
                                              "video {\n"
                                              "  width: 12x\n"
                                              "}\n");
    auto r = bwc::fw::loadCameraConfig(path);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::Config);
    INFO(r.error().message);
    CHECK(r.error().message.starts_with(path + ":4:"));

    std::string unclosed = dir.write("unclosed.conf", "format_version: 1\nvideo {\n  fps: 30\n");
    auto r2 = bwc::fw::loadCameraConfig(unclosed);
    REQUIRE_FALSE(r2);
    CHECK(r2.error().code == Errc::Config);
    INFO(r2.error().message);
    CHECK(r2.error().message.starts_with(unclosed + ":"));
}

TEST_CASE("an unknown field is an error that names the field and its place")
{
    TempDir dir;
    std::string path = dir.write("camd.conf", "format_version: 1\n"
                                              "video {\n"
                                              "  framerate: 30\n"
                                              "}\n");
    auto r = bwc::fw::loadCameraConfig(path);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::Config);
    INFO(r.error().message);
    CHECK(r.error().message.starts_with(path + ":3:3: "));
    CHECK(r.error().message.find("\"framerate\"") != std::string::npos);
    CHECK(r.error().message.find("bwc.v1.VideoConfig") != std::string::npos);
}

TEST_CASE("a field given twice is an error")
{
    TempDir dir;
    std::string path = dir.write("camd.conf", kMinimal + "device_id: \"CAM-2\"\n");
    auto r = bwc::fw::loadCameraConfig(path);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::Config);
    INFO(r.error().message);
    CHECK(r.error().message.starts_with(path + ":10:"));
    CHECK(r.error().message.find("device_id") != std::string::npos);
}

TEST_CASE("a missing config file is NotFound and names the path")
{
    TempDir dir;
    auto r = bwc::fw::loadCameraConfig(dir.path() + "/nope.conf");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::NotFound);
    CHECK(r.error().message.find(dir.path() + "/nope.conf") != std::string::npos);
}

TEST_CASE("format_version must be given as 1")
{
    TempDir dir;
    std::string text = kMinimal.substr(kMinimal.find('\n') + 1); // without format_version
    std::string path = dir.write("camd.conf", text);
    auto r = bwc::fw::loadCameraConfig(path);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::Config);
    CHECK(r.error().message.starts_with(path + ": format_version = 0: must be 1"));
}

TEST_CASE("the defaulted valid config passes validation, and so do edge values")
{
    CHECK(problems(validConfig()).empty());

    auto c = validConfig();
    c.mutable_video()->set_width(3840);
    c.mutable_video()->set_height(2160);
    c.mutable_video()->set_fps(60);
    c.mutable_video()->set_bitrate_kbps(50000);
    c.mutable_video()->set_source("libcamera"); // device optional
    c.mutable_prerecord()->set_seconds(0);
    c.mutable_prerecord()->set_max_bytes(1 << 20);
    c.mutable_hal()->set_long_press_ms(10000);
    c.mutable_storage()->set_warn_percent(99);
    c.set_max_clip_seconds(60);
    c.mutable_audio()->set_source("alsa"); // no device needed while audio is off
    c.mutable_dock()->set_address("[fd00::1]:4433");
    c.mutable_dock()->set_interface("enx00e04c680001");
    CHECK(problems(c).empty());

    for (const char *loc : {"", "gpsd", "gpsd:localhost:2947", "fixed:52.52,13.405",
                            "fixed:52.52,13.405,34", "replay:/tmp/track.csv"}) {
        auto l = validConfig();
        l.set_location(loc);
        INFO(loc);
        CHECK(problems(l).empty());
    }
}

TEST_CASE("every validation rule rejects a bad value naming FIELD = VALUE")
{
    const std::vector<Rule> rules = {
        {"format_version = 2", [](auto &c) { c.set_format_version(2); }},
        {"device_id = \"\"", [](auto &c) { c.set_device_id(""); }},
        {"device_id = \" CAM\"", [](auto &c) { c.set_device_id(" CAM"); }},
        {"device_id = \"CAM\\x01\"", [](auto &c) { c.set_device_id("CAM\x01"); }},
        {"device_id = \"" + std::string(129, 'A') + "\"",
         [](auto &c) { c.set_device_id(std::string(129, 'A')); }},
        {"video.source = \"usb\"", [](auto &c) { c.mutable_video()->set_source("usb"); }},
        {"video.device = \"\": required for video.source \"file\"",
         [](auto &c) { c.mutable_video()->set_source("file"); }},
        {"video.device = \"\": required for video.source \"v4l2\"",
         [](auto &c) { c.mutable_video()->set_source("v4l2"); }},
        {"video.width = 641: must be even", [](auto &c) { c.mutable_video()->set_width(641); }},
        {"video.width = 158: must be between 160 and 3840",
         [](auto &c) { c.mutable_video()->set_width(158); }},
        {"video.width = 3842", [](auto &c) { c.mutable_video()->set_width(3842); }},
        {"video.height = 481: must be even", [](auto &c) { c.mutable_video()->set_height(481); }},
        {"video.height = 2162: must be between 120 and 2160",
         [](auto &c) { c.mutable_video()->set_height(2162); }},
        {"video.height = 118", [](auto &c) { c.mutable_video()->set_height(118); }},
        {"video.fps = 0: must be between 1 and 60", [](auto &c) { c.mutable_video()->set_fps(0); }},
        {"video.fps = 61", [](auto &c) { c.mutable_video()->set_fps(61); }},
        {"video.bitrate_kbps = 99: must be between 100 and 50000",
         [](auto &c) { c.mutable_video()->set_bitrate_kbps(99); }},
        {"video.bitrate_kbps = 50001", [](auto &c) { c.mutable_video()->set_bitrate_kbps(50001); }},
        {"video.encoder = \"hevc\"", [](auto &c) { c.mutable_video()->set_encoder("hevc"); }},
        {"video.pixel_format = \"RGB3\"",
         [](auto &c) { c.mutable_video()->set_pixel_format("RGB3"); }},
        {"video.preset = \"turbo\"", [](auto &c) { c.mutable_video()->set_preset("turbo"); }},
        {"audio.source = \"pulse\"", [](auto &c) { c.mutable_audio()->set_source("pulse"); }},
        {"audio.capture_device = \"\": required for audio.source \"alsa\"",
         [](auto &c) {
             c.mutable_audio()->set_enabled(true);
             c.mutable_audio()->set_source("alsa");
         }},
        {"audio.sample_rate = 22050", [](auto &c) { c.mutable_audio()->set_sample_rate(22050); }},
        {"audio.bitrate_kbps = 8", [](auto &c) { c.mutable_audio()->set_bitrate_kbps(8); }},
        {"prerecord.seconds = 121: must be between 0 and 120",
         [](auto &c) { c.mutable_prerecord()->set_seconds(121); }},
        {"prerecord.max_bytes = 1048575",
         [](auto &c) { c.mutable_prerecord()->set_max_bytes((1 << 20) - 1); }},
        {"prerecord.max_bytes = 1073741825",
         [](auto &c) { c.mutable_prerecord()->set_max_bytes((uint64_t(1) << 30) + 1); }},
        {"prerecord.include_audio = true: audio.enabled is false",
         [](auto &c) { c.mutable_prerecord()->set_include_audio(true); }},
        {"hal.backend = \"wiringpi\"", [](auto &c) { c.mutable_hal()->set_backend("wiringpi"); }},
        {"hal.gpio_chip = \"\": required for hal.backend \"gpiod\"",
         [](auto &c) {
             c.mutable_hal()->set_backend("gpiod");
             c.mutable_hal()->set_button_line("BTN");
             c.mutable_hal()->set_record_led_line("LED");
         }},
        {"hal.button_line = \"\": required for hal.backend \"gpiod\"",
         [](auto &c) {
             c.mutable_hal()->set_backend("gpiod");
             c.mutable_hal()->set_gpio_chip("gpiochip0");
             c.mutable_hal()->set_record_led_line("LED");
         }},
        {"hal.record_led_line = \"\": required for hal.backend \"gpiod\"",
         [](auto &c) {
             c.mutable_hal()->set_backend("gpiod");
             c.mutable_hal()->set_gpio_chip("gpiochip0");
             c.mutable_hal()->set_button_line("BTN");
         }},
        {"hal.haptic_line = \"BTN\": same GPIO line as hal.button_line",
         [](auto &c) {
             c.mutable_hal()->set_backend("gpiod");
             c.mutable_hal()->set_gpio_chip("gpiochip0");
             c.mutable_hal()->set_button_line("BTN");
             c.mutable_hal()->set_record_led_line("LED");
             c.mutable_hal()->set_haptic_line("BTN");
         }},
        {"hal.long_press_ms = 999: must be between 1000 and 10000",
         [](auto &c) { c.mutable_hal()->set_long_press_ms(999); }},
        {"hal.long_press_ms = 10001", [](auto &c) { c.mutable_hal()->set_long_press_ms(10001); }},
        {"storage.path = \"\": required", [](auto &c) { c.mutable_storage()->clear_path(); }},
        {"storage.warn_percent = 49: must be between 50 and 99",
         [](auto &c) { c.mutable_storage()->set_warn_percent(49); }},
        {"storage.warn_percent = 100", [](auto &c) { c.mutable_storage()->set_warn_percent(100); }},
        {"storage.reserve_bytes = 4096: must be at least 1048576",
         [](auto &c) { c.mutable_storage()->set_reserve_bytes(4096); }},
        {"identity.key_path = \"\": required",
         [](auto &c) { c.mutable_identity()->clear_key_path(); }},
        {"identity.cert_path = \"\": required",
         [](auto &c) { c.mutable_identity()->clear_cert_path(); }},
        {"identity.ca_path = \"\": required",
         [](auto &c) { c.mutable_identity()->clear_ca_path(); }},
        {"identity.crl_path = \"crl\\x00.pem\": a path cannot contain a NUL byte",
         [](auto &c) { c.mutable_identity()->set_crl_path(std::string("crl\0.pem", 8)); }},
        {"identity.recipient_cert_paths = []: at least one recipient",
         [](auto &c) { c.mutable_identity()->clear_recipient_cert_paths(); }},
        {"identity.recipient_cert_paths[1] = \"\": must not be empty",
         [](auto &c) { c.mutable_identity()->add_recipient_cert_paths(""); }},
        {"identity.counter_path = \"\": required",
         [](auto &c) { c.mutable_identity()->clear_counter_path(); }},
        {"dock.address = \"dock.local\": must be HOST:PORT",
         [](auto &c) { c.mutable_dock()->set_address("dock.local"); }},
        {"dock.address = \"dock.local:0\"",
         [](auto &c) { c.mutable_dock()->set_address("dock.local:0"); }},
        {"dock.address = \":4433\"", [](auto &c) { c.mutable_dock()->set_address(":4433"); }},
        {"dock.address = \"dock:70000\"",
         [](auto &c) { c.mutable_dock()->set_address("dock:70000"); }},
        {"dock.interface = \"usb/0\": not a network interface name",
         [](auto &c) { c.mutable_dock()->set_interface("usb/0"); }},
        {"dock.interface = \"" + std::string(16, 'e') + "\"",
         [](auto &c) { c.mutable_dock()->set_interface(std::string(16, 'e')); }},
        {"max_clip_seconds = 59: must be between 60 and 14400",
         [](auto &c) { c.set_max_clip_seconds(59); }},
        {"max_clip_seconds = 14401", [](auto &c) { c.set_max_clip_seconds(14401); }},
        {"location = \"gps:localhost\": must be empty (no location), \"fixed:",
         [](auto &c) { c.set_location("gps:localhost"); }},
        {"location = \"fixed:\": nothing after \"fixed:\"",
         [](auto &c) { c.set_location("fixed:"); }},
        {"location = \"replay:\": nothing after", [](auto &c) { c.set_location("replay:"); }},
        {"location = \"gpsd:\": nothing after", [](auto &c) { c.set_location("gpsd:"); }},
        {"font_path = \"\": required", [](auto &c) { c.clear_font_path(); }},
        {"control_socket = \"\": required", [](auto &c) { c.clear_control_socket(); }},
        {"control_socket = \"/" + std::string(107, 's') + "\": longer than 107 bytes",
         [](auto &c) { c.set_control_socket("/" + std::string(107, 's')); }},
    };
    for (const auto &rule : rules) {
        auto c = validConfig();
        rule.breakIt(c);
        std::string message = problems(c);
        INFO("expected: " << rule.phrase << "\nactual:   " << message);
        CHECK(message.starts_with("camd.conf: " + rule.phrase));
        CHECK(lineCount(message) == 1);
    }
}

TEST_CASE("several problems are reported together, one per line")
{
    TempDir dir;
    std::string path = dir.write("camd.conf", kMinimal + "video { fps: 0 width: 99 }\n"
                                                         "hal { long_press_ms: 50 }\n"
                                                         "location: \"nowhere\"\n");
    // fps 0 is the "left out" value and gets the default; the others are reported.
    auto r = bwc::fw::loadCameraConfig(path);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::Config);
    const std::string &m = r.error().message;
    INFO(m);
    CHECK(lineCount(m) == 3);
    CHECK(m.find(path + ": video.width = 99: must be even") != std::string::npos);
    CHECK(m.find(path + ": hal.long_press_ms = 50: must be between 1000 and 10000") !=
          std::string::npos);
    CHECK(m.find(path + ": location = \"nowhere\": must be empty") != std::string::npos);
}

TEST_CASE("validation without defaults reports the zero values")
{
    CameraConfig c;
    std::string m = problems(c);
    INFO(m);
    CHECK(m.find("camd.conf: format_version = 0: must be 1") != std::string::npos);
    CHECK(m.find("camd.conf: video.source = \"\": must be one of synthetic, file, v4l2, "
                 "libcamera") != std::string::npos);
    CHECK(m.find("camd.conf: video.fps = 0: must be between 1 and 60") != std::string::npos);
    CHECK(m.find("camd.conf: storage.path = \"\": required") != std::string::npos);
    CHECK(lineCount(m) > 10);
}
