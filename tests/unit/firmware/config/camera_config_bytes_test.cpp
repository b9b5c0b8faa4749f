// A configuration from bytes (what the dock sends) and the dock address.

#include "firmware/config/camera_config.h"

#include <catch2/catch_test_macros.hpp>

#include <string>

namespace {

using bwc::asBytes;
using bwc::Errc;

const std::string kConfig = "format_version: 1\n"
                            "device_id: \"CAM-0042\"\n"
                            "storage { path: \"clips\" }\n"
                            "identity {\n"
                            "  key_path: \"device.key\"\n"
                            "  cert_path: \"device.pem\"\n"
                            "  ca_path: \"/etc/bwc/ca.pem\"\n"
                            "  recipient_cert_paths: \"aek.pem\"\n"
                            "}\n"
                            "dock { address: \"[fd00::1]:7443\" }\n";

bool contains(const std::string &text, const std::string &needle)
{
    return text.find(needle) != std::string::npos;
}

TEST_CASE("parseCameraConfig reads bytes as if they were the file at the path")
{
    auto loaded = bwc::fw::parseCameraConfig(asBytes(kConfig), "/cam/etc/camd.conf");
    INFO((loaded.ok() ? "" : loaded.error().message));
    REQUIRE(loaded.ok());
    CHECK(loaded->path == "/cam/etc/camd.conf");
    CHECK(loaded->config.identity().key_path() == "/cam/etc/device.key");
    CHECK(loaded->config.identity().ca_path() == "/etc/bwc/ca.pem");
    CHECK(loaded->config.storage().path() == "/cam/etc/clips");
    CHECK(loaded->config.identity().counter_path() == "/cam/etc/clips/counter");
    CHECK(loaded->sha256.size() == 32);
}

TEST_CASE("parseCameraConfig reports every problem naming the path")
{
    const std::string bad = "format_version: 1\ndevice_id: \"CAM-0042\"\nvideo { fps: 500 }\n"
                            "dock { address: \"dock.local\" }\n";
    auto loaded = bwc::fw::parseCameraConfig(asBytes(bad), "/cam/etc/camd.conf");
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().code == Errc::Config);
    const std::string &m = loaded.error().message;
    CHECK(contains(m, "/cam/etc/camd.conf: video.fps = 500: must be between 1 and 60"));
    CHECK(contains(m, "dock.address = \"dock.local\": must be HOST:PORT"));
    CHECK(contains(m, "storage.path"));

    auto garbage = bwc::fw::parseCameraConfig(asBytes(std::string("fps: {")), "x.conf");
    REQUIRE_FALSE(garbage.ok());
    CHECK(garbage.error().code == Errc::Config);
    CHECK(contains(garbage.error().message, "x.conf:1:"));
}

TEST_CASE("parseDockAddress splits HOST:PORT and [IPv6]:PORT")
{
    auto v4 = bwc::fw::parseDockAddress("127.0.0.1:7443");
    REQUIRE(v4.ok());
    CHECK(v4->host == "127.0.0.1");
    CHECK(v4->port == 7443);
    auto name = bwc::fw::parseDockAddress("dock.local:1");
    REQUIRE(name.ok());
    CHECK(name->host == "dock.local");
    CHECK(name->port == 1);
    auto v6 = bwc::fw::parseDockAddress("[fd00::1]:65535");
    REQUIRE(v6.ok());
    CHECK(v6->host == "fd00::1");
    CHECK(v6->port == 65535);

    for (const char *bad : {"dock.local", "dock.local:0", "dock.local:65536", ":7443", "[]:7443",
                            "fd00::1:7443", "dock:7443x", "dock:"}) {
        INFO(bad);
        auto r = bwc::fw::parseDockAddress(bad);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Errc::Config);
        CHECK(contains(r.error().message, "dock.address"));
    }
    auto empty = bwc::fw::parseDockAddress("");
    REQUIRE_FALSE(empty.ok());
    CHECK(contains(empty.error().message, "dock.address is not set"));
}

} // namespace
