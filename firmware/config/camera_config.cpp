#include "firmware/config/camera_config.h"

#include <sys/un.h>

#include <algorithm>
#include <array>
#include <string_view>
#include <utility>

#include "common/base/config_rules.h"
#include "common/base/config_text.h"
#include "common/base/file.h"
#include "common/chain/identity.h"
#include "common/crypto/crypto.h"

namespace bwc::fw {

namespace {

constexpr uint64_t kMiB = uint64_t(1) << 20;
constexpr uint64_t kMaxConfigBytes = kMiB;

constexpr const char *kDefaultFontPath = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf";
constexpr const char *kDefaultControlSocket = "/run/bwc/camd.sock";

void checkVideo(ConfigChecker &ck, const v1::VideoConfig &v)
{
    ck.choice("video.source", v.source(), {"synthetic", "file", "v4l2", "libcamera"});
    if (v.source() == "file")
        ck.path("video.device", v.device(),
                "required for video.source \"file\" (the file to play)");
    else if (v.source() == "v4l2")
        ck.path("video.device", v.device(),
                "required for video.source \"v4l2\" (the device node, e.g. /dev/video0)");
    if (v.width() % 2 != 0)
        ck.fail("video.width", std::to_string(v.width()), "must be even (4:2:0 chroma)");
    else
        ck.range("video.width", v.width(), 160, 3840, "pixels");
    if (v.height() % 2 != 0)
        ck.fail("video.height", std::to_string(v.height()), "must be even (4:2:0 chroma)");
    else
        ck.range("video.height", v.height(), 120, 2160, "pixels");
    ck.range("video.fps", v.fps(), 1, 60);
    ck.range("video.bitrate_kbps", v.bitrate_kbps(), 100, 50000);
    ck.choice("video.encoder", v.encoder(), {"libx264", "h264_v4l2m2m"});
    if (!isOneOf(v.pixel_format(), {"", "YUYV", "NV12", "MJPEG"}))
        ck.failString("video.pixel_format", v.pixel_format(),
                      "must be YUYV, NV12, MJPEG or empty (the best the device offers)");
    ck.choice("video.preset", v.preset(),
              {"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
               "veryslow", "placebo"});
}

void checkAudio(ConfigChecker &ck, const v1::AudioConfig &a)
{
    ck.choice("audio.source", a.source(), {"synthetic", "alsa"});
    if (a.enabled() && a.source() == "alsa" && a.capture_device().empty())
        ck.failString("audio.capture_device", a.capture_device(),
                      "required for audio.source \"alsa\" (an ALSA PCM name such as hw:0,0)");
    constexpr std::array<uint32_t, 4> kRates{16000, 32000, 44100, 48000};
    if (std::find(kRates.begin(), kRates.end(), a.sample_rate()) == kRates.end())
        ck.fail("audio.sample_rate", std::to_string(a.sample_rate()),
                "must be 16000, 32000, 44100 or 48000");
    ck.range("audio.bitrate_kbps", a.bitrate_kbps(), 16, 320);
}

void checkPrerecord(ConfigChecker &ck, const v1::PrerecordConfig &p, const v1::AudioConfig &a)
{
    if (p.has_seconds())
        ck.range("prerecord.seconds", p.seconds(), 0, 120);
    if (p.max_bytes() != 0 && p.max_bytes() < kMiB)
        ck.fail("prerecord.max_bytes", std::to_string(p.max_bytes()),
                "must be 0 (derived from seconds and bit rates) or at least 1048576 (1 MiB)");
    else if (p.max_bytes() > 1024 * kMiB)
        ck.fail("prerecord.max_bytes", std::to_string(p.max_bytes()),
                "must be at most 1073741824 (1 GiB): the ring is locked in RAM");
    if (p.include_audio() && !a.enabled())
        ck.fail("prerecord.include_audio", "true",
                "audio.enabled is false, so there is no audio to keep; enable audio or drop "
                "this line");
}

void checkHal(ConfigChecker &ck, const v1::HalConfig &h)
{
    ck.choice("hal.backend", h.backend(), {"sim", "gpiod"});
    if (h.backend() == "gpiod") {
        constexpr std::string_view kNeeded = "required for hal.backend \"gpiod\"";
        if (h.gpio_chip().empty())
            ck.failString("hal.gpio_chip", h.gpio_chip(),
                          std::string(kNeeded) + " (a chip name or path, e.g. gpiochip0)");
        if (h.button_line().empty())
            ck.failString("hal.button_line", h.button_line(),
                          std::string(kNeeded) + " (the record button's line name)");
        if (h.record_led_line().empty())
            ck.failString("hal.record_led_line", h.record_led_line(),
                          std::string(kNeeded) + " (the record LED's line name)");
        // One line cannot be two things.
        const std::array<std::pair<std::string_view, const std::string *>, 4> lines{{
            {"hal.button_line", &h.button_line()},
            {"hal.record_led_line", &h.record_led_line()},
            {"hal.status_led_line", &h.status_led_line()},
            {"hal.haptic_line", &h.haptic_line()},
        }};
        for (size_t i = 0; i < lines.size(); ++i) {
            for (size_t j = 0; j < i; ++j) {
                if (!lines[i].second->empty() && *lines[i].second == *lines[j].second)
                    ck.failString(lines[i].first, *lines[i].second,
                                  "same GPIO line as " + std::string(lines[j].first));
            }
        }
    }
    ck.range("hal.long_press_ms", h.long_press_ms(), 1000, 10000, "ms");
}

void checkIdentity(ConfigChecker &ck, const v1::IdentityConfig &id)
{
    ck.path("identity.key_path", id.key_path(), "required (the device private key, PEM)");
    ck.path("identity.cert_path", id.cert_path(),
            "required (the device certificate chain, PEM, leaf first)");
    ck.path("identity.ca_path", id.ca_path(), "required (the agency CA certificate, PEM)");
    ck.path("identity.crl_path", id.crl_path(), {});
    if (id.recipient_cert_paths().empty())
        ck.fail("identity.recipient_cert_paths", "[]",
                "at least one recipient certificate is required (the agency evidence key "
                "every clip is encrypted to)");
    for (int i = 0; i < id.recipient_cert_paths_size(); ++i)
        ck.path("identity.recipient_cert_paths[" + std::to_string(i) + "]",
                id.recipient_cert_paths(i), "must not be empty (a recipient certificate, PEM)");
    ck.path("identity.counter_path", id.counter_path(),
            "required (the monotonic counter file; defaults to <storage.path>/counter)");
}

void checkDock(ConfigChecker &ck, const v1::DockLinkConfig &d)
{
    if (!d.address().empty() && !parseDockAddress(d.address()))
        ck.failString("dock.address", d.address(),
                      "must be HOST:PORT or [IPv6]:PORT with a port between 1 and 65535 (or "
                      "empty for no dock)");
    const std::string &ifname = d.interface();
    if (!ifname.empty()) {
        bool bad = ifname.size() > 15 || ifname == "." || ifname == ".." ||
                   std::any_of(ifname.begin(), ifname.end(), [](char c) {
                       return c == '/' || c == ':' || static_cast<unsigned char>(c) <= 0x20 ||
                              static_cast<unsigned char>(c) >= 0x7f;
                   });
        if (bad)
            ck.failString("dock.interface", ifname,
                          "not a network interface name (at most 15 characters, no '/', ':' or "
                          "spaces)");
    }
}

void checkLocation(ConfigChecker &ck, const std::string &spec)
{
    if (spec.empty() || spec == "gpsd")
        return;
    for (std::string_view prefix : {"fixed:", "gpsd:", "replay:"}) {
        if (spec.starts_with(prefix)) {
            if (spec.size() == prefix.size())
                ck.failString("location", spec,
                              "nothing after \"" + std::string(prefix) +
                                  "\" (expected \"fixed:LAT,LON[,ALT]\", \"gpsd:HOST:PORT\" or "
                                  "\"replay:PATH\")");
            return;
        }
    }
    ck.failString("location", spec,
                  "must be empty (no location), \"fixed:LAT,LON[,ALT]\", \"gpsd\", "
                  "\"gpsd:HOST:PORT\" or \"replay:PATH\"");
}

void resolvePaths(v1::CameraConfig &c, const std::string &dir)
{
    auto *id = c.mutable_identity();
    id->set_key_path(resolveConfigPath(dir, id->key_path()));
    id->set_cert_path(resolveConfigPath(dir, id->cert_path()));
    id->set_ca_path(resolveConfigPath(dir, id->ca_path()));
    id->set_crl_path(resolveConfigPath(dir, id->crl_path()));
    for (auto &r : *id->mutable_recipient_cert_paths())
        r = resolveConfigPath(dir, r);
    id->set_counter_path(resolveConfigPath(dir, id->counter_path()));
    c.mutable_storage()->set_path(resolveConfigPath(dir, c.storage().path()));
    c.set_font_path(resolveConfigPath(dir, c.font_path()));
    c.set_control_socket(resolveConfigPath(dir, c.control_socket()));
    if (c.video().source() == "file")
        c.mutable_video()->set_device(resolveConfigPath(dir, c.video().device()));
    constexpr std::string_view kReplay = "replay:";
    if (c.location().starts_with(kReplay))
        c.set_location(std::string(kReplay) + resolveConfigPath(dir, c.location().substr(kReplay.size())));
}

} // namespace

void applyCameraDefaults(v1::CameraConfig &config)
{
    auto *v = config.mutable_video();
    if (v->source().empty())
        v->set_source("synthetic");
    if (v->width() == 0)
        v->set_width(1280);
    if (v->height() == 0)
        v->set_height(720);
    if (v->fps() == 0)
        v->set_fps(30);
    if (v->bitrate_kbps() == 0)
        v->set_bitrate_kbps(4000);
    if (v->encoder().empty())
        v->set_encoder("libx264");
    if (v->preset().empty())
        v->set_preset("veryfast");

    auto *a = config.mutable_audio();
    if (a->source().empty())
        a->set_source("synthetic");
    if (a->sample_rate() == 0)
        a->set_sample_rate(48000);
    if (a->bitrate_kbps() == 0)
        a->set_bitrate_kbps(96);

    auto *p = config.mutable_prerecord();
    if (!p->has_seconds())
        p->set_seconds(120);

    auto *h = config.mutable_hal();
    if (h->backend().empty())
        h->set_backend("sim");
    if (h->long_press_ms() == 0)
        h->set_long_press_ms(3000);

    auto *s = config.mutable_storage();
    if (s->warn_percent() == 0)
        s->set_warn_percent(90);
    if (s->reserve_bytes() == 0)
        s->set_reserve_bytes(64 * kMiB);

    auto *id = config.mutable_identity();
    if (id->counter_path().empty() && !s->path().empty())
        id->set_counter_path(s->path() + "/counter");

    if (config.max_clip_seconds() == 0)
        config.set_max_clip_seconds(14400);
    if (config.font_path().empty())
        config.set_font_path(kDefaultFontPath);
    if (config.control_socket().empty())
        config.set_control_socket(kDefaultControlSocket);
}

Expected<void> validateCameraConfig(const v1::CameraConfig &c, const std::string &origin)
{
    ConfigChecker ck(origin);
    if (c.format_version() != 1)
        ck.fail("format_version", std::to_string(c.format_version()),
                "must be 1 (the only config format this firmware reads); add "
                "\"format_version: 1\" at the top of the file");
    if (!chain::isPrintableDeviceId(c.device_id()))
        ck.failString("device_id", c.device_id(),
                      "must be 1 to 128 printable ASCII characters without leading or trailing "
                      "spaces (the device certificate's common name)");
    checkVideo(ck, c.video());
    checkAudio(ck, c.audio());
    checkPrerecord(ck, c.prerecord(), c.audio());
    checkHal(ck, c.hal());

    ck.path("storage.path", c.storage().path(), "required (the clip directory)");
    ck.range("storage.warn_percent", c.storage().warn_percent(), 50, 99, "percent");
    if (c.storage().reserve_bytes() < kMiB)
        ck.fail("storage.reserve_bytes", std::to_string(c.storage().reserve_bytes()),
                "must be at least 1048576 (1 MiB) to seal a clip when the storage is full");

    checkIdentity(ck, c.identity());
    checkDock(ck, c.dock());
    ck.range("max_clip_seconds", c.max_clip_seconds(), 60, 14400, "seconds");
    checkLocation(ck, c.location());
    ck.path("font_path", c.font_path(), "required (a TrueType font for the watermark)");

    constexpr size_t kMaxSocketPath = sizeof(sockaddr_un::sun_path) - 1;
    ck.path("control_socket", c.control_socket(), "required (the control socket's path)");
    if (c.control_socket().size() > kMaxSocketPath)
        ck.failString("control_socket", c.control_socket(),
                      "longer than " + std::to_string(kMaxSocketPath) +
                          " bytes, the limit of a Unix socket path; choose a shorter path");
    return ck.result();
}

Expected<LoadedConfig> loadCameraConfig(const std::string &path)
{
    auto bytes = readFile(path, kMaxConfigBytes);
    if (!bytes)
        return std::move(bytes).error().context("camera config");
    return parseCameraConfig(*bytes, path);
}

Expected<LoadedConfig> parseCameraConfig(ByteView bytes, const std::string &path)
{
    if (bytes.size() > kMaxConfigBytes)
        return Error(Errc::Config, path + ": " + std::to_string(bytes.size()) +
                                       " bytes; a camera config is at most 1 MiB");
    LoadedConfig loaded;
    loaded.path = path;

    BWC_TRY(parseTextConfig(asChars(bytes), path, loaded.config, "camera config",
                            "check the spelling; the fields are listed in "
                            "proto/bwc/v1/config.proto"));

    auto backend = crypto::makeMbedtlsBackend();
    if (!backend)
        return Error(Errc::Crypto, "camera config " + path +
                                       ": cannot hash the file: the mbedTLS backend is not "
                                       "available");
    auto digest = backend->sha256(bytes);
    loaded.sha256.assign(digest.begin(), digest.end());

    BWC_ASSIGN(folder, configFileFolder(path, "camera config"));
    applyCameraDefaults(loaded.config);
    resolvePaths(loaded.config, folder);
    BWC_TRY(validateCameraConfig(loaded.config, path));
    return loaded;
}

Expected<DockAddress> parseDockAddress(std::string_view address)
{
    if (address.empty())
        return Error(Errc::Config, "dock.address is not set: the camera does not know where its "
                                   "dock is; set dock.address (HOST:PORT) in the camera config");
    auto split = splitHostPort(address);
    if (!split)
        return Error(Errc::Config, "dock.address = " + quoteConfigValue(address) +
                                       ": must be HOST:PORT or [IPv6]:PORT with a port between 1 "
                                       "and 65535; set it in the camera config");
    return DockAddress{std::move(split->host), split->port};
}

} // namespace bwc::fw
