#include "dock/config/dock_config.h"

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/unit/common/base/temp_dir.h"

namespace {

using bwc::Errc;
using bwc::test::TempDir;
using bwc::dock::loadDockConfig;
using Catch::Matchers::ContainsSubstring;

// Only what has no default.
const std::string kMinimal = "format_version: 1\n"
                             "dock_id: \"DOCK-01\"\n"
                             "store_path: \"store\"\n"
                             "key_path: \"pki/dock.key\"\n"
                             "cert_path: \"pki/dock.pem\"\n"
                             "ca_path: \"pki/ca.pem\"\n"
                             "crl_path: \"/etc/bwc/ca.crl\"\n";

size_t countLines(const std::string &s)
{
    return s.empty() ? 0 : size_t(std::count(s.begin(), s.end(), '\n')) + 1;
}

} // namespace

TEST_CASE("dock config: defaults are applied and relative paths resolved", "[dock][config]")
{
    TempDir dir;
    auto path = dir.write("etc/dockd.conf", kMinimal);
    auto loaded = loadDockConfig(path);
    REQUIRE(loaded.ok());
    const auto &c = loaded->config;
    CHECK(loaded->path == path);
    CHECK(c.listen() == "127.0.0.1:7443");
    CHECK(loaded->host == "127.0.0.1");
    CHECK(loaded->port == 7443);
    CHECK(c.max_sessions() == 8);
    CHECK(c.default_retention_days() == 31);
    CHECK(c.session_timeout_seconds() == 30);
    CHECK(c.reserve_bytes() == (uint64_t(1) << 30));
    CHECK(c.store_path() == dir.path() + "/etc/store");
    CHECK(c.key_path() == dir.path() + "/etc/pki/dock.key");
    CHECK(c.cert_path() == dir.path() + "/etc/pki/dock.pem");
    CHECK(c.ca_path() == dir.path() + "/etc/pki/ca.pem");
    CHECK(c.crl_path() == "/etc/bwc/ca.crl"); // absolute paths stay
    CHECK(c.aek_key_path().empty());          // optional paths stay empty
    CHECK(c.camera_config_dir().empty());
}

TEST_CASE("dock config: explicit values are kept; IPv6 listen; ../ paths", "[dock][config]")
{
    TempDir dir;
    auto path = dir.write("conf/dockd.conf", kMinimal + "listen: \"[::1]:9000\"\n"
                                                        "aek_key_path: \"../keys/aek.key\"\n"
                                                        "camera_config_dir: \"cameras\"\n"
                                                        "max_sessions: 64\n"
                                                        "default_retention_days: 365\n"
                                                        "session_timeout_seconds: 5\n"
                                                        "reserve_bytes: 1048576\n");
    auto loaded = loadDockConfig(path);
    REQUIRE(loaded.ok());
    CHECK(loaded->host == "::1");
    CHECK(loaded->port == 9000);
    CHECK(loaded->config.aek_key_path() == dir.path() + "/keys/aek.key");
    CHECK(loaded->config.camera_config_dir() == dir.path() + "/conf/cameras");
    CHECK(loaded->config.max_sessions() == 64);
    CHECK(loaded->config.default_retention_days() == 365);
    CHECK(loaded->config.session_timeout_seconds() == 5);
    CHECK(loaded->config.reserve_bytes() == 1048576);
}

TEST_CASE("dock config: each invalid field is named with its value and reason",
          "[dock][config]")
{
    TempDir dir;
    struct Case {
        std::string line;
        std::string expected;
    };
    const std::vector<Case> cases = {
        {"max_sessions: 65", "max_sessions = 65: must be between 1 and 64"},
        {"default_retention_days: 36501",
         "default_retention_days = 36501: must be between 1 and 36500"},
        {"session_timeout_seconds: 4", "session_timeout_seconds = 4: must be between 5 and 3600"},
        {"session_timeout_seconds: 3601",
         "session_timeout_seconds = 3601: must be between 5 and 3600"},
        {"reserve_bytes: 1048575", "reserve_bytes = 1048575: must be at least 1048576"},
        {"listen: \"localhost\"", "listen = \"localhost\": must be HOST:PORT"},
        {"listen: \"localhost:0\"", "listen = \"localhost:0\": must be HOST:PORT"},
        {"listen: \"localhost:65536\"", "listen = \"localhost:65536\": must be HOST:PORT"},
        {"listen: \":7443\"", "listen = \":7443\": must be HOST:PORT"},
        {"listen: \"::1:7443\"", "listen = \"::1:7443\": must be HOST:PORT"},
        {"listen: \"[::1]7443\"", "listen = \"[::1]7443\": must be HOST:PORT"},
    };
    for (const auto &c : cases) {
        INFO(c.line);
        auto path = dir.write("dockd.conf", kMinimal + c.line + "\n");
        auto loaded = loadDockConfig(path);
        REQUIRE_FALSE(loaded.ok());
        CHECK(loaded.error().code == Errc::Config);
        CHECK_THAT(loaded.error().message, ContainsSubstring(path + ": " + c.expected));
        CHECK(countLines(loaded.error().message) == 1);
    }

    SECTION("a wrong dock_id")
    {
        std::string text = kMinimal;
        text.replace(text.find("\"DOCK-01\""), 9, "\" DOCK\"");
        auto loaded = loadDockConfig(dir.write("dockd.conf", text));
        REQUIRE_FALSE(loaded.ok());
        CHECK_THAT(loaded.error().message,
                   ContainsSubstring("dock_id = \" DOCK\": must be 1 to 128 printable"));
    }
    SECTION("format_version other than 1")
    {
        std::string text = kMinimal;
        text.replace(0, 17, "format_version: 2");
        auto loaded = loadDockConfig(dir.write("dockd.conf", text));
        REQUIRE_FALSE(loaded.ok());
        CHECK_THAT(loaded.error().message, ContainsSubstring("format_version = 2: must be 1"));
    }
}

TEST_CASE("dock config: every missing required field is reported together", "[dock][config]")
{
    TempDir dir;
    auto path = dir.write("dockd.conf", "# nothing but a comment\n");
    auto loaded = loadDockConfig(path);
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().code == Errc::Config);
    const auto &m = loaded.error().message;
    CHECK_THAT(m, ContainsSubstring(path + ": format_version = 0: must be 1"));
    CHECK_THAT(m, ContainsSubstring(path + ": dock_id = \"\": must be"));
    for (const char *field : {"store_path", "key_path", "cert_path", "ca_path", "crl_path"})
        CHECK_THAT(m, ContainsSubstring(path + ": " + field + " = \"\": required"));
    CHECK(countLines(m) == 7);
}

TEST_CASE("dock config: an unknown field is named with its line and column", "[dock][config]")
{
    TempDir dir;
    auto path = dir.write("dockd.conf", kMinimal + "  stor_path: \"x\"\n");
    auto loaded = loadDockConfig(path);
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().code == Errc::Config);
    CHECK_THAT(loaded.error().message, ContainsSubstring(path + ":8:3:"));
    CHECK_THAT(loaded.error().message, ContainsSubstring("stor_path"));
    CHECK_THAT(loaded.error().message, ContainsSubstring("proto/bwc/v1/config.proto"));
}

TEST_CASE("dock config: a parse error gives line and column", "[dock][config]")
{
    TempDir dir;
    auto path = dir.write("dockd.conf", "format_version: 1\n"
                                        "dock_id: \"DOCK-01\"\n"
                                        "max_sessions: \"eight\"\n");
    auto loaded = loadDockConfig(path);
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().code == Errc::Config);
    CHECK_THAT(loaded.error().message, ContainsSubstring(path + ":3:15:"));

    auto unterminated = loadDockConfig(dir.write("bad.conf", "dock_id: \"DOCK\n"));
    REQUIRE_FALSE(unterminated.ok());
    CHECK_THAT(unterminated.error().message, ContainsSubstring("bad.conf:1:"));
}

TEST_CASE("dock config: a missing file is NotFound and names the file", "[dock][config]")
{
    TempDir dir;
    auto loaded = loadDockConfig(dir.path() + "/absent.conf");
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().code == Errc::NotFound);
    CHECK_THAT(loaded.error().message, ContainsSubstring("absent.conf"));
}
