// The metadata stream's framing: varint-length-prefixed MetadataRecord messages.

#include <catch2/catch_test_macros.hpp>

#include "common/container/metadata.h"

using namespace bwc;

namespace
{

v1::MetadataRecord event(const std::string &name, size_t detailBytes)
{
    v1::MetadataRecord r;
    r.set_utc_ms(1'760'000'000'123);
    r.set_mono_ms(42);
    r.mutable_event()->set_name(name);
    r.mutable_event()->set_detail(std::string(detailBytes, 'x'));
    return r;
}

} // namespace

TEST_CASE("metadata records are prefixed with their length as a protobuf varint")
{
    const v1::MetadataRecord small = event("button-press", 0);
    const Bytes a = container::frameMetadataRecord(small);
    const std::string body = small.SerializeAsString();
    REQUIRE(body.size() < 128);
    REQUIRE(a.size() == body.size() + 1);
    CHECK(a[0] == body.size());

    // 300 bytes of body: the two-byte varint 0xac 0x02.
    v1::MetadataRecord big = event("e", 0);
    size_t detail = 250;
    while (big.ByteSizeLong() != 300 && detail < 300)
        big.mutable_event()->set_detail(std::string(detail++, 'y'));
    REQUIRE(big.ByteSizeLong() == 300);
    const Bytes b = container::frameMetadataRecord(big);
    CHECK(b[0] == 0xac);
    CHECK(b[1] == 0x02);
    CHECK(b.size() == 302);
}

TEST_CASE("a metadata stream parses back into the same records")
{
    Bytes stream;
    std::vector<v1::MetadataRecord> in;
    for (size_t i = 0; i < 20; ++i) {
        in.push_back(event("ev" + std::to_string(i), i * 37));
        const Bytes framed = container::frameMetadataRecord(in.back());
        stream.insert(stream.end(), framed.begin(), framed.end());
    }
    v1::MetadataRecord fix;
    fix.mutable_location()->set_latitude_deg(52.52);
    fix.mutable_location()->set_longitude_deg(13.405);
    in.push_back(fix);
    const Bytes framed = container::frameMetadataRecord(fix);
    stream.insert(stream.end(), framed.begin(), framed.end());

    auto out = container::parseMetadataStream(stream);
    REQUIRE(out.ok());
    REQUIRE(out->size() == in.size());
    for (size_t i = 0; i < in.size(); ++i)
        CHECK((*out)[i].SerializeAsString() == in[i].SerializeAsString());
    CHECK(container::parseMetadataStream({})->empty());
}

TEST_CASE("a damaged metadata stream is refused naming the record and offset")
{
    Bytes stream = container::frameMetadataRecord(event("first", 10));
    const size_t secondAt = stream.size();
    const Bytes second = container::frameMetadataRecord(event("second", 10));
    stream.insert(stream.end(), second.begin(), second.end());

    SECTION("truncated inside the second record")
    {
        stream.pop_back();
        auto r = container::parseMetadataStream(stream);
        REQUIRE(!r.ok());
        CHECK(r.error().code == Errc::Format);
        CHECK(r.error().message.find("record 1 at byte " + std::to_string(secondAt)) !=
              std::string::npos);
        CHECK(r.error().message.find("runs past the stream") != std::string::npos);
    }
    SECTION("a length prefix cut off")
    {
        stream.push_back(0x80);
        auto r = container::parseMetadataStream(stream);
        REQUIRE(!r.ok());
        CHECK(r.error().message.find("truncated length prefix") != std::string::npos);
    }
    SECTION("bytes that are not a record")
    {
        stream.push_back(0x02);
        stream.push_back(0xff);
        stream.push_back(0xff);
        auto r = container::parseMetadataStream(stream);
        REQUIRE(!r.ok());
        CHECK(r.error().message.find("not a MetadataRecord") != std::string::npos);
    }
}
