#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "firmware/control/control.h"
#include "firmware/control/json_read.h"

using bwc::Errc;
using bwc::fw::JsonObject;
using bwc::fw::jsonQuote;

TEST_CASE("jsonQuote escapes quotes, backslashes and control characters")
{
    CHECK(jsonQuote("") == "\"\"");
    CHECK(jsonQuote("idle") == "\"idle\"");
    CHECK(jsonQuote("say \"hi\"") == "\"say \\\"hi\\\"\"");
    CHECK(jsonQuote("C:\\clips") == "\"C:\\\\clips\"");
    CHECK(jsonQuote("a\nb\rc\td\be\ff") == "\"a\\nb\\rc\\td\\be\\ff\"");
    CHECK(jsonQuote(std::string("nul\0x", 5)) == "\"nul\\u0000x\"");
    CHECK(jsonQuote("\x01\x1f\x7f") == "\"\\u0001\\u001f\\u007f\"");
    CHECK(jsonQuote("/ stays") == "\"/ stays\"");
}

TEST_CASE("jsonQuote passes valid UTF-8 through and replaces invalid bytes")
{
    CHECK(jsonQuote("Stra\xc3\x9f"
                    "e") == "\"Stra\xc3\x9f"
                            "e\"");                                 // 2 bytes
    CHECK(jsonQuote("\xe2\x82\xac 5") == "\"\xe2\x82\xac 5\"");     // euro sign
    CHECK(jsonQuote("\xf0\x9f\x93\xb7") == "\"\xf0\x9f\x93\xb7\""); // camera emoji
    CHECK(jsonQuote("a\xff"
                    "b") == "\"a\\ufffdb\"");                                   // never valid
    CHECK(jsonQuote("\xc3") == "\"\\ufffd\"");                                  // truncated
    CHECK(jsonQuote("\xc0\xaf") == "\"\\ufffd\\ufffd\"");                       // overlong '/'
    CHECK(jsonQuote("\xed\xa0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");            // surrogate
    CHECK(jsonQuote("\xf4\x90\x80\x80") == "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); // > U+10FFFF
    CHECK(jsonQuote("\x80x") == "\"\\ufffdx\""); // stray continuation
}

TEST_CASE("JsonObject writes members in order with exact number formats")
{
    JsonObject o;
    o.add("ok", true)
        .add("state", "idle")
        .add("n", 42)
        .add("neg", int64_t{-7})
        .add("min", std::numeric_limits<int64_t>::min())
        .add("max", std::numeric_limits<uint64_t>::max())
        .add("u32", uint32_t{4000000000u})
        .add("off", false)
        .add("half", 0.5)
        .add("tenth", 0.1)
        .add("lat", 52.520008)
        .add("big", 1e300)
        .add("nan", std::nan(""))
        .add("inf", std::numeric_limits<double>::infinity())
        .addRaw("list", "[1,2]")
        .add("k\"ey", std::string_view("v"));
    CHECK(o.str() == "{\"ok\":true,\"state\":\"idle\",\"n\":42,\"neg\":-7,"
                     "\"min\":-9223372036854775808,\"max\":18446744073709551615,"
                     "\"u32\":4000000000,\"off\":false,\"half\":0.5,\"tenth\":0.1,"
                     "\"lat\":52.520008,\"big\":1e+300,\"nan\":null,\"inf\":null,"
                     "\"list\":[1,2],\"k\\\"ey\":\"v\"}");
    CHECK(JsonObject().str() == "{}");
    CHECK(bwc::fw::jsonError("no \"dock\"") == "{\"ok\":false,\"error\":\"no \\\"dock\\\"\"}");
}

TEST_CASE("jsonObjectMembers splits an object into keys and raw values")
{
    auto m = bwc::fw::jsonObjectMembers(
        " {\"ok\":true, \"state\" : \"rec\\u00e9\", \"leds\":[{\"a\":1},2], \"x\":-1.5e3,"
        "\"n\":null, \"o\":{}} \n");
    REQUIRE(m);
    REQUIRE(m->size() == 6);
    CHECK((*m)[0].key == "ok");
    CHECK((*m)[0].value == "true");
    CHECK((*m)[1].key == "state");
    CHECK((*m)[1].value == "\"rec\\u00e9\"");
    CHECK((*m)[2].value == "[{\"a\":1},2]");
    CHECK((*m)[3].value == "-1.5e3");
    CHECK((*m)[4].value == "null");
    CHECK((*m)[5].value == "{}");

    // The writer's output reads back.
    auto w = bwc::fw::jsonObjectMembers(JsonObject().add("k\n", "v\x01").add("d", 2.5).str());
    REQUIRE(w);
    REQUIRE(w->size() == 2);
    CHECK((*w)[0].key == "k\n");
    CHECK((*w)[0].value == "\"v\\u0001\"");
}

TEST_CASE("jsonObjectMembers rejects malformed JSON with Errc::Format")
{
    for (const char *bad :
         {"", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{a:1}", "{\"a\":01}", "{\"a\":1.}",
          "{\"a\":tru}", "{\"a\":\"x\ny\"}", "{\"a\":\"\\x\"}", "{\"a\":1} x", "{\"a\":\"\xff\"}",
          "{\"a\":[1 2]}", "{\"a\":\"\\ud800\"}", "{\"a\":-}"}) {
        INFO(bad);
        auto r = bwc::fw::jsonObjectMembers(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::Format);
        CHECK(r.error().message.starts_with("malformed JSON object at byte "));
    }
    std::string deep(100, '[');
    auto r = bwc::fw::jsonObjectMembers("{\"a\":" + deep + std::string(100, ']') + "}");
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("nested deeper than 64 levels") != std::string::npos);
}

TEST_CASE("jsonUnquote decodes escapes and surrogate pairs")
{
    CHECK(*bwc::fw::jsonUnquote("\"plain\"") == "plain");
    CHECK(*bwc::fw::jsonUnquote("\"a\\\"b\\\\c\\/d\\n\\t\"") == "a\"b\\c/d\n\t");
    CHECK(*bwc::fw::jsonUnquote("\"\\u00e9\\u20ac\"") == "\xc3\xa9\xe2\x82\xac");
    CHECK(*bwc::fw::jsonUnquote("\"\\ud83d\\udcf7\"") == "\xf0\x9f\x93\xb7");
    CHECK(*bwc::fw::jsonUnquote("\"\\u0000\"") == std::string(1, '\0'));
    // Round trip through jsonQuote, invalid bytes aside.
    std::string s = "tab\there \"q\" \\ \x01 \xe2\x82\xac";
    CHECK(*bwc::fw::jsonUnquote(jsonQuote(s)) == s);
    for (const char *bad :
         {"plain", "\"open", "\"\\udc00\"", "\"\\ud83dx\"", "\"a\" ", "\"\\u12\""}) {
        INFO(bad);
        auto r = bwc::fw::jsonUnquote(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::Format);
    }
}

TEST_CASE("jsonPretty indents objects and arrays")
{
    auto p = bwc::fw::jsonPretty("{\"ok\":true,\"s\":\"a, b: {c}\",\"l\":[1,{\"x\":[]}],\"e\":{}}");
    REQUIRE(p);
    CHECK(*p == "{\n"
                "  \"ok\": true,\n"
                "  \"s\": \"a, b: {c}\",\n"
                "  \"l\": [\n"
                "    1,\n"
                "    {\n"
                "      \"x\": []\n"
                "    }\n"
                "  ],\n"
                "  \"e\": {}\n"
                "}");
    CHECK(*bwc::fw::jsonPretty(" 42 ") == "42");
    CHECK(*bwc::fw::jsonPretty("\"q\\\"\"") == "\"q\\\"\"");
    CHECK_FALSE(bwc::fw::jsonPretty("{\"a\":1"));
}
