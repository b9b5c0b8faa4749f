// The validation helpers shared by the camera's and the dock's configuration loaders,
// and the JSON string writer shared by the control protocol and the `bwc` tool.

#include <catch2/catch_test_macros.hpp>

#include <string>

#include "bwc/v1/config.pb.h"
#include "common/base/config_rules.h"
#include "common/base/config_text.h"
#include "common/base/json.h"

using namespace bwc;

TEST_CASE("ConfigChecker reports every failed check, one line each, in order")
{
    ConfigChecker ck("a.conf");
    ck.range("fps", 30, 1, 60);
    ck.path("dir", "clips", "required");
    ck.choice("mode", "fast", {"fast", "slow"});
    REQUIRE(ck.result().ok());

    ck.range("fps", 0, 1, 60, "frames");
    ck.path("dir", "", "required (the clip directory)");
    ck.path("optional", "", {});
    ck.path("nul", std::string("a\0b", 3), "required");
    ck.choice("mode", "Fast", {"fast", "slow"});
    ck.fail("n", "7", "too many");
    auto r = ck.result();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::Config);
    CHECK(r.error().message == "a.conf: fps = 0: must be between 1 and 60 frames\n"
                               "a.conf: dir = \"\": required (the clip directory)\n"
                               "a.conf: nul = \"a\\x00b\": a path cannot contain a NUL byte\n"
                               "a.conf: mode = \"Fast\": must be one of fast, slow\n"
                               "a.conf: n = 7: too many");

    ConfigChecker noOrigin("");
    noOrigin.failString("x", " y\t", "bad");
    CHECK(noOrigin.result().error().message == "x = \" y\\x09\": bad");
}

TEST_CASE("quoteConfigValue escapes quotes, backslashes and unprintable bytes")
{
    CHECK(quoteConfigValue("") == "\"\"");
    CHECK(quoteConfigValue("say \"hi\" C:\\") == "\"say \\\"hi\\\" C:\\\\\"");
    CHECK(quoteConfigValue("\x01\x7f") == "\"\\x01\\x7f\"");
}

TEST_CASE("parsePort and splitHostPort")
{
    CHECK(parsePort("1") == 1);
    CHECK(parsePort("65535") == 65535);
    for (const char *bad : {"", "0", "65536", "+1", "-1", "1x", " 1", "99999999999"})
        CHECK_FALSE(parsePort(bad));

    auto v4 = splitHostPort("127.0.0.1:7443");
    REQUIRE(v4);
    CHECK(v4->host == "127.0.0.1");
    CHECK(v4->port == 7443);
    auto v6 = splitHostPort("[fd00::1]:1");
    REQUIRE(v6);
    CHECK(v6->host == "fd00::1");
    CHECK(v6->port == 1);
    for (const char *bad : {"dock", "dock:", ":1", "[]:1", "::1:7443", "[::1]7443", "[::1:7443",
                            "a[b:1", "a]:1", "a b:1", "dock\x01:1", "dock:0", "dock:65536"}) {
        INFO(bad);
        CHECK_FALSE(splitHostPort(bad));
    }
}

TEST_CASE("resolveConfigPath keeps absolute and empty paths and joins relative ones")
{
    CHECK(resolveConfigPath("/etc/bwc", "") == "");
    CHECK(resolveConfigPath("/etc/bwc", "/var/x") == "/var/x");
    CHECK(resolveConfigPath("/etc/bwc", "pki/a.pem") == "/etc/bwc/pki/a.pem");
    CHECK(resolveConfigPath("/etc/bwc", "../a.pem") == "/etc/a.pem");
    auto folder = configFileFolder("/etc/bwc/dockd.conf", "dock config");
    REQUIRE(folder.ok());
    CHECK(*folder == "/etc/bwc");
}

TEST_CASE("parseTextConfig names the file, line and column of every problem")
{
    v1::DockConfig c;
    REQUIRE(parseTextConfig("format_version: 1\ndock_id: \"D\"\n", "d.conf", c, "dock config",
                            "hint")
                .ok());
    CHECK(c.dock_id() == "D");

    v1::DockConfig u;
    auto unknown = parseTextConfig("format_version: 1\n  dokc_id: \"D\"\n", "d.conf", u,
                                   "dock config", "check the spelling");
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().code == Errc::Config);
    CHECK(unknown.error().message.starts_with("d.conf:2:3: "));
    CHECK(unknown.error().message.find("dokc_id") != std::string::npos);
    CHECK(unknown.error().message.ends_with(" (check the spelling)"));

    v1::DockConfig s;
    auto syntax = parseTextConfig("format_version: \"one\"\n", "d.conf", s, "dock config", "h");
    REQUIRE_FALSE(syntax.ok());
    CHECK(syntax.error().message.starts_with("d.conf:1:"));
    CHECK(syntax.error().message.find("(h)") == std::string::npos);
}

TEST_CASE("jsonQuote escapes control characters and replaces invalid UTF-8")
{
    CHECK(jsonQuote("a\"b\\c\nd\x01") == "\"a\\\"b\\\\c\\nd\\u0001\"");
    CHECK(jsonQuote("\xe2\x82\xac") == "\"\xe2\x82\xac\"");
    CHECK(jsonQuote("x\xff") == "\"x\\ufffd\"");
    CHECK(utf8SequenceLength("\xf0\x9f\x93\xb7", 0) == 4);
    CHECK(utf8SequenceLength("\xc0\xaf", 0) == 0);
}
