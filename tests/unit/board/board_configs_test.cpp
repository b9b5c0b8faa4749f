// Every board's camera configuration (board/*/camd*.conf) loads through the firmware's own
// loader (schema, defaults, every validation rule), and the Raspberry Pi ones agree with
// their board and with the systemd unit that runs bwc-camd (writable paths, sockets).

#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "firmware/config/camera_config.h"

namespace {

namespace fs = std::filesystem;

const fs::path kSource = BWC_SOURCE_DIR;

std::vector<fs::path> boardConfigs()
{
    std::vector<fs::path> found;
    for (const auto &board : fs::directory_iterator(kSource / "board")) {
        if (!board.is_directory())
            continue;
        for (const auto &entry : fs::directory_iterator(board.path())) {
            const std::string name = entry.path().filename().string();
            if (entry.is_regular_file() && name.starts_with("camd") && name.ends_with(".conf"))
                found.push_back(entry.path());
        }
    }
    std::sort(found.begin(), found.end());
    return found;
}

bwc::fw::LoadedConfig load(const fs::path &path)
{
    auto loaded = bwc::fw::loadCameraConfig(path.string());
    INFO(path.string() << ": " << (loaded ? std::string("valid") : loaded.error().message));
    REQUIRE(loaded);
    return *loaded;
}

// Whether `path` is `dir` or inside it (both absolute and normal).
bool within(const fs::path &path, const fs::path &dir)
{
    auto p = path.lexically_normal();
    auto d = dir.lexically_normal();
    auto [end, _] = std::mismatch(d.begin(), d.end(), p.begin(), p.end());
    return end == d.end();
}

// The values of KEY= lines in a systemd unit (space-separated lists split).
std::vector<std::string> unitValues(const fs::path &unit, const std::string &key)
{
    std::ifstream in(unit);
    REQUIRE(in);
    std::vector<std::string> values;
    std::string line;
    while (std::getline(in, line)) {
        if (!line.starts_with(key + "="))
            continue;
        std::istringstream words(line.substr(key.size() + 1));
        std::string word;
        while (words >> word)
            values.push_back(word);
    }
    return values;
}

} // namespace

TEST_CASE("every board's camd configuration passes the firmware's config loader")
{
    const auto configs = boardConfigs();
    std::vector<std::string> names;
    for (const auto &c : configs)
        names.push_back(fs::relative(c, kSource).string());
    INFO("found: " << names.size());
    for (const char *expected : {"board/sim/camd.conf", "board/rpi/camd-zero2w.conf",
                                 "board/rpi/camd-pi4.conf", "board/rpi/camd-pi5.conf"}) {
        INFO(expected);
        CHECK(std::find(names.begin(), names.end(), expected) != names.end());
    }
    for (const auto &path : configs) {
        auto loaded = bwc::fw::loadCameraConfig(path.string());
        INFO(path.string() << ": " << (loaded ? std::string("valid") : loaded.error().message));
        CHECK(loaded.ok());
    }
}

TEST_CASE("each Raspberry Pi configuration fits its board")
{
    struct Board {
        const char *file;
        const char *chip;
        const char *encoder;
    };
    const std::vector<Board> boards = {
        {"camd-zero2w.conf", "pinctrl-bcm2835", "h264_v4l2m2m"},
        {"camd-pi4.conf", "pinctrl-bcm2711", "h264_v4l2m2m"},
        {"camd-pi5.conf", "pinctrl-rp1", "libx264"},
    };
    for (const Board &b : boards) {
        INFO(b.file);
        const auto c = load(kSource / "board/rpi" / b.file).config;
        CHECK(c.video().source() == "libcamera");
        CHECK(c.video().encoder() == b.encoder);
        CHECK(c.hal().backend() == "gpiod");
        CHECK(c.hal().gpio_chip() == b.chip);
        // The wiring in board/rpi/README.md: the same header pins on every board.
        CHECK(c.hal().button_line() == "GPIO17");
        CHECK(c.hal().record_led_line() == "GPIO27");
        CHECK(c.hal().status_led_line() == "GPIO22");
        CHECK(c.hal().haptic_line() == "GPIO23");
        CHECK(c.audio().enabled());
        CHECK(c.audio().source() == "alsa");
        CHECK(c.audio().capture_device() == "plughw:CARD=sndrpigooglevoi,DEV=0");
        CHECK(c.hal().tone_device() == c.audio().capture_device());
        CHECK(c.dock().interface() == "usb0");
        auto dock = bwc::fw::parseDockAddress(c.dock().address());
        REQUIRE(dock);
        CHECK(dock->host == "169.254.0.1");
        // board/rpi/install lays these files down: the key it copies, the font it ships.
        CHECK(c.identity().key_path() == (kSource / "board/rpi/pki/device.key").string());
        CHECK(c.font_path() == "/usr/local/share/bwc/DejaVuSansMono-Bold.ttf");
    }
}

TEST_CASE("the Raspberry Pi configurations write only where bwc-camd.service allows")
{
    const fs::path unit = kSource / "board/rpi/systemd/bwc-camd.service";
    std::vector<fs::path> writable;
    for (const auto &p : unitValues(unit, "ReadWritePaths"))
        writable.emplace_back(p);
    for (const auto &d : unitValues(unit, "StateDirectory"))
        writable.push_back(fs::path("/var/lib") / d);
    const auto runtime = unitValues(unit, "RuntimeDirectory");
    REQUIRE(runtime.size() == 1);
    const fs::path runDir = fs::path("/run") / runtime.front();

    const auto exec = unitValues(unit, "ExecStart");
    REQUIRE(exec.size() >= 3);
    CHECK(exec[1] == "--config");
    const fs::path installedConfig = exec[2];
    CHECK(installedConfig == "/etc/bwc/camd.conf");
    // The install puts the configuration there and the PKI beside it; the unit waits for
    // the key.
    const auto conditions = unitValues(unit, "ConditionPathExists");
    CHECK(std::find(conditions.begin(), conditions.end(), "/etc/bwc/pki/device.key") !=
          conditions.end());

    auto isWritable = [&](const fs::path &p) {
        return std::any_of(writable.begin(), writable.end(),
                           [&](const fs::path &w) { return within(p, w); });
    };
    for (const char *file : {"camd-zero2w.conf", "camd-pi4.conf", "camd-pi5.conf"}) {
        INFO(file);
        // Loaded as the installed file, so relative paths resolve as on the camera.
        std::ifstream in(kSource / "board/rpi" / file, std::ios::binary);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        auto loaded = bwc::fw::parseCameraConfig(bwc::asBytes(text), installedConfig.string());
        INFO((loaded ? std::string() : loaded.error().message));
        REQUIRE(loaded);
        const auto &c = loaded->config;
        // The clips, the chain and the counter.
        CHECK(isWritable(c.storage().path()));
        CHECK(isWritable(c.identity().counter_path()));
        // Replaced by the dock at a docking: the CRL and the configuration itself.
        CHECK(isWritable(c.identity().crl_path()));
        CHECK(isWritable(installedConfig.parent_path()));
        CHECK(c.identity().key_path() == "/etc/bwc/pki/device.key");
        // The control socket in the unit's runtime directory.
        CHECK(fs::path(c.control_socket()).parent_path() == runDir);
    }
}
