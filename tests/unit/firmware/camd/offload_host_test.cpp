// The daemon's side of the offload host: the steppable clock and its offset file, the
// officer file, a configuration from the dock (validated, saved, previous kept), the CRL
// and the flag files.

#include "firmware/camd/offload_host.h"

#include <catch2/catch_test_macros.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/base/file.h"
#include "common/container/container.h"
#include "common/crypto/pem.h"
#include "firmware/camd/camera_clock.h"

namespace bwc::fw {
namespace {

class TempDir
{
public:
    TempDir()
    {
        std::string tmpl = (std::filesystem::temp_directory_path() / "bwc-host-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path_ = tmpl;
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    std::string file(const std::string &name) const { return path_ + "/" + name; }
    std::string write(const std::string &name, const std::string &text) const
    {
        std::ofstream(file(name), std::ios::binary) << text;
        return file(name);
    }

private:
    std::string path_;
};

std::string read(const std::string &path)
{
    auto text = readTextFile(path);
    INFO(path);
    REQUIRE(text.ok());
    return *text;
}

bool contains(const std::string &text, const std::string &needle)
{
    return text.find(needle) != std::string::npos;
}

std::string config(const std::string &deviceId, uint32_t fps)
{
    return "format_version: 1\n"
           "device_id: \"" +
           deviceId +
           "\"\n"
           "video { fps: " +
           std::to_string(fps) +
           " }\n"
           "storage { path: \"data\" }\n"
           "identity {\n"
           "  key_path: \"device.key\"\n"
           "  cert_path: \"device.pem\"\n"
           "  ca_path: \"ca.pem\"\n"
           "  crl_path: \"crl.pem\"\n"
           "  recipient_cert_paths: \"aek.pem\"\n"
           "}\n"
           "dock { address: \"127.0.0.1:7443\" }\n";
}

struct HostFixture {
    TempDir dir;
    std::unique_ptr<CameraClock> clock;
    std::string officerSeen;
    int clockSets = 0;
    std::unique_ptr<CameraOffloadHost> host;

    HostFixture()
    {
        for (const char *f : {"device.key", "device.pem", "ca.pem", "crl.pem", "aek.pem"})
            dir.write(f, "x");
        dir.write("camd.conf", config("cam-0001", 30));
        REQUIRE(makeDirectories(dir.file("data/clips")).ok());
        auto opened = CameraClock::open(CameraClock::Mode::Offset, dir.file("data/clock_offset"));
        REQUIRE(opened.ok());
        clock = std::move(*opened);
        CameraOffloadHostOptions o;
        o.configPath = dir.file("camd.conf");
        o.configSha256 = Bytes(32, 7);
        o.deviceId = "cam-0001";
        o.officerFile = dir.file("data/officer");
        o.crlPath = dir.file("crl.pem");
        o.clipDir = dir.file("data/clips");
        o.fwVersion = "bwc-camd test";
        host = std::make_unique<CameraOffloadHost>(
            *clock, nullptr, o, [this](const std::string &id) { officerSeen = id; },
            [this] { ++clockSets; });
    }
};

TEST_CASE("camera clock: a step is kept as an offset in a file and applied at the next start")
{
    TempDir dir;
    const std::string path = dir.file("clock_offset");
    auto clock = CameraClock::open(CameraClock::Mode::Offset, path);
    REQUIRE(clock.ok());
    CHECK((*clock)->offsetMs() == 0);
    CHECK_FALSE(pathExists(path));

    const int64_t target = utcNowMs() + 3'600'000;
    REQUIRE((*clock)->set(target).ok());
    const int64_t offset = (*clock)->offsetMs();
    // The offset is the step (the system clock moved on a little meanwhile).
    CHECK(offset > 3'500'000);
    CHECK(offset <= 3'600'000);
    CHECK((*clock)->utcMs() >= target);
    CHECK(read(path) == std::to_string(offset) + "\n");

    // A restart applies the same offset.
    auto again = CameraClock::open(CameraClock::Mode::Offset, path);
    REQUIRE(again.ok());
    CHECK((*again)->offsetMs() == offset);

    // A second step accumulates (back in time this time).
    REQUIRE((*again)->set(utcNowMs() - 60'000).ok());
    CHECK((*again)->offsetMs() < -59'000);
    CHECK((*again)->offsetMs() >= -60'000);

    dir.write("clock_offset", "soon\n");
    auto bad = CameraClock::open(CameraClock::Mode::Offset, path);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == Errc::Format);
    CHECK(contains(bad.error().message, path));
}

TEST_CASE("utcMsOfMono maps a monotonic instant through the clock")
{
    ManualClock clock(1'800'000'000'000, 5'000'000'000);
    CHECK(utcMsOfMono(clock, 5'000'000'000) == 1'800'000'000'000);
    CHECK(utcMsOfMono(clock, 4'000'000'000) == 1'799'999'999'000);
}

TEST_CASE("offload host: the clock step reaches the daemon")
{
    HostFixture f;
    const int64_t target = utcNowMs() + 120'000;
    REQUIRE(f.host->setClock(target).ok());
    CHECK(f.clockSets == 1);
    CHECK(f.host->utcMs() >= target);
    CHECK(pathExists(f.dir.file("data/clock_offset")));
}

TEST_CASE("offload host: the officer is written atomically and handed to the daemon")
{
    HostFixture f;
    auto none = readOfficerFile(f.dir.file("data/officer"));
    REQUIRE(none.ok());
    CHECK(none->empty());
    REQUIRE(f.host->setOfficer("officer-7").ok());
    CHECK(f.officerSeen == "officer-7");
    CHECK(read(f.dir.file("data/officer")) == "officer-7\n");
    auto back = readOfficerFile(f.dir.file("data/officer"));
    REQUIRE(back.ok());
    CHECK(*back == "officer-7");

    auto bad = f.host->setOfficer("bad\nofficer");
    REQUIRE_FALSE(bad.ok());
    CHECK(f.officerSeen == "officer-7");
    CHECK(read(f.dir.file("data/officer")) == "officer-7\n");
}

TEST_CASE("offload host: a valid configuration replaces the file and keeps the previous one")
{
    HostFixture f;
    const std::string old = read(f.dir.file("camd.conf"));
    const std::string next = config("cam-0001", 25);
    CHECK_FALSE(f.host->configPendingRestart());
    auto saved = f.host->saveConfig(asBytes(next));
    INFO((saved.ok() ? "" : saved.error().message));
    REQUIRE(saved.ok());
    CHECK(read(f.dir.file("camd.conf")) == next);
    CHECK(read(f.dir.file("camd.conf.previous")) == old);
    CHECK(f.host->configPendingRestart());

    // The dock sends it again at the next docking: already saved, the previous file stays.
    auto again = f.host->saveConfig(asBytes(next));
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().code == Errc::Exists);
    CHECK(read(f.dir.file("camd.conf.previous")) == old);
    CHECK(read(f.dir.file("camd.conf")) == next);
}

TEST_CASE("offload host: an invalid configuration is refused and nothing is written")
{
    HostFixture f;
    const std::string old = read(f.dir.file("camd.conf"));
    struct Case {
        std::string text;
        std::string phrase;
    };
    const std::vector<Case> cases = {
        {config("cam-0001", 500), "video.fps = 500: must be between 1 and 60"},
        {config("cam-0002", 30), "device_id = \"cam-0002\": this camera is \"cam-0001\""},
        {"format_version: 1\nvideo { fps: 30 ", "camd.conf"},
        {[] {
             std::string t = config("cam-0001", 30);
             return t.replace(t.find("aek.pem"), 7, "escrow.pem");
         }(),
         "identity.recipient_cert_paths[0]"},
    };
    for (const Case &c : cases) {
        INFO(c.text);
        auto saved = f.host->saveConfig(asBytes(c.text));
        REQUIRE_FALSE(saved.ok());
        CHECK(saved.error().code == Errc::Config);
        CHECK(contains(saved.error().message, c.phrase));
    }
    CHECK(read(f.dir.file("camd.conf")) == old);
    CHECK_FALSE(pathExists(f.dir.file("camd.conf.previous")));
    CHECK_FALSE(f.host->configPendingRestart());
}

TEST_CASE("offload host: the CRL is saved as PEM at identity.crl_path")
{
    HostFixture f;
    const Bytes der = {0x30, 0x03, 0x02, 0x01, 0x01};
    REQUIRE(f.host->saveCrl(der).ok());
    auto blocks = crypto::readPemFile(f.dir.file("crl.pem"), "X509 CRL");
    REQUIRE(blocks.ok());
    REQUIRE(blocks->size() == 1);
    CHECK(blocks->front() == der);
}

TEST_CASE("offload host: a clip is flagged by its flag file")
{
    HostFixture f;
    container::ClipUuid uuid{};
    uuid[0] = 0xab;
    uuid[15] = 0x01;
    const ByteView raw(uuid.data(), uuid.size());
    CHECK_FALSE(f.host->flagged(raw));
    f.dir.write("data/clips/" + container::uuidToString(uuid) + ".flag", "x");
    CHECK(f.host->flagged(raw));
    CHECK(clipFlagPath(f.dir.file("data/clips"), container::uuidToString(uuid)) ==
          f.dir.file("data/clips/" + container::uuidToString(uuid) + ".flag"));
    CHECK_FALSE(f.host->flagged(ByteView(uuid.data(), 3)));
}

} // namespace
} // namespace bwc::fw
