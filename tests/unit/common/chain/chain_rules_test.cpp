#include "common/chain/chain_rules.h"

#include <catch2/catch_test_macros.hpp>

#include <map>

#include "common/chain/manifest.h"
#include "tests/unit/common/chain/chain_test_util.h"

using namespace bwc;
using namespace bwc::chain;
using namespace bwc::chain::test;

namespace
{

bool contains(const std::string &text, const std::string &part)
{
    return text.find(part) != std::string::npos;
}

// A dock's view of one device, fed with real signed manifests.
struct Dock {
    const crypto::Backend &backend;
    std::optional<v1::ChainHead> head;
    std::map<uint64_t, crypto::Digest> stored;

    Decision offer(const std::string &certDeviceId, const v1::SignedManifest &sm)
    {
        v1::Manifest m = must(parseManifest(sm));
        crypto::Digest hash = manifestSha256(backend, sm);
        Decision d = evaluate(
            head,
            [&](uint64_t seq) -> std::optional<crypto::Digest> {
                auto it = stored.find(seq);
                if (it == stored.end())
                    return std::nullopt;
                return it->second;
            },
            certDeviceId, m, hash);
        if (d.verdict == Verdict::Append) {
            stored[m.seq()] = hash;
            v1::ChainHead h;
            h.set_device_id(m.device_id());
            h.set_seq(m.seq());
            h.set_manifest_sha256(hashString(hash));
            head = h;
        }
        return d;
    }
};

// Signs a run of manifests 1..n, each linked to the one before.
struct Device {
    const crypto::Backend &backend;
    SoftwareIdentity &identity;
    std::vector<v1::SignedManifest> issued;

    v1::SignedManifest sign(uint64_t seq, const std::string &prev, const std::string &note = {})
    {
        v1::Manifest m = sampleClipManifest(identity.id(), seq, prev);
        m.set_note(note);
        return must(signManifest(backend, identity, m));
    }
    void run(uint64_t n)
    {
        for (uint64_t seq = issued.size() + 1; seq <= n; ++seq) {
            std::string prev =
                issued.empty() ? zeroHash() : hashString(manifestSha256(backend, issued.back()));
            issued.push_back(sign(seq, prev));
        }
    }
    std::string hashOf(uint64_t seq) const
    {
        return hashString(manifestSha256(backend, issued.at(seq - 1)));
    }
};

} // namespace

TEST_CASE("chain rules: every verdict", "[chain_rules]")
{
    const crypto::Backend &backend = dockBackend();
    TempDir dir;
    auto id = makeIdentity(backend, "cam-0001", generateKey(backend), dir.file("counter"));
    Device device{backend, *id, {}};
    device.run(6);
    Dock dock{backend, std::nullopt, {}};

    SECTION("an empty dock accepts only seq 1 from the zero hash")
    {
        Decision gap = dock.offer("cam-0001", device.issued[2]);
        CHECK(gap.verdict == Verdict::Gap);
        CHECK(contains(gap.explanation, "dock holds nothing for device cam-0001; expected seq 1"));
        CHECK(contains(gap.explanation, "seqs 1..2 are missing"));

        Decision badStart = dock.offer("cam-0001", device.sign(1, std::string(32, '\x07')));
        CHECK(badStart.verdict == Verdict::Gap);
        CHECK(contains(badStart.explanation, "dock holds nothing for device cam-0001"));

        CHECK(dock.offer("cam-0001", device.issued[0]).verdict == Verdict::Append);
        CHECK(dock.head->seq() == 1);
    }

    SECTION("a contiguous run appends; a resubmission is idempotent")
    {
        for (size_t i = 0; i < 4; ++i)
            REQUIRE(dock.offer("cam-0001", device.issued[i]).verdict == Verdict::Append);
        CHECK(dock.head->seq() == 4);
        // The whole run again, and a replay of an old manifest, change nothing.
        for (size_t i = 0; i < 4; ++i) {
            Decision d = dock.offer("cam-0001", device.issued[i]);
            CHECK(d.verdict == Verdict::Idempotent);
            CHECK(contains(d.explanation, "already stored"));
        }
        CHECK(dock.head->seq() == 4);
        CHECK(dock.offer("cam-0001", device.issued[4]).verdict == Verdict::Append);
    }

    SECTION("a missing seq is a gap naming the range")
    {
        REQUIRE(dock.offer("cam-0001", device.issued[0]).verdict == Verdict::Append);
        REQUIRE(dock.offer("cam-0001", device.issued[1]).verdict == Verdict::Append);
        Decision one = dock.offer("cam-0001", device.issued[3]);
        CHECK(one.verdict == Verdict::Gap);
        CHECK(contains(one.explanation, "seq 3 is missing"));
        Decision many = dock.offer("cam-0001", device.issued[5]);
        CHECK(many.verdict == Verdict::Gap);
        CHECK(contains(many.explanation, "seqs 3..5 are missing"));
        CHECK(dock.head->seq() == 2);
    }

    SECTION("a different manifest for a stored seq is a fork, also for an old seq")
    {
        for (size_t i = 0; i < 3; ++i)
            REQUIRE(dock.offer("cam-0001", device.issued[i]).verdict == Verdict::Append);
        // Same seq and prev, different content (another clip signed for seq 3).
        Decision atHead = dock.offer("cam-0001", device.sign(3, device.hashOf(2), "other"));
        CHECK(atHead.verdict == Verdict::Fork);
        CHECK(contains(atHead.explanation, "different manifest"));
        // A replayed old seq with different bytes.
        Decision old = dock.offer("cam-0001", device.sign(1, zeroHash(), "rewritten"));
        CHECK(old.verdict == Verdict::Fork);
        CHECK(dock.head->seq() == 3);
    }

    SECTION("the next seq not linked to the head is a rollback")
    {
        for (size_t i = 0; i < 3; ++i)
            REQUIRE(dock.offer("cam-0001", device.issued[i]).verdict == Verdict::Append);
        // The device was restored to its state after seq 1 and signed seq 4 on from there.
        Decision d = dock.offer("cam-0001", device.sign(4, device.hashOf(1)));
        CHECK(d.verdict == Verdict::Rollback);
        CHECK(contains(d.explanation, "head seq 3"));
        CHECK(contains(d.explanation, toHex(asBytes(device.hashOf(3)))));
    }

    SECTION("the certificate's device must be the manifest's")
    {
        Decision d = dock.offer("cam-0002", device.issued[0]);
        CHECK(d.verdict == Verdict::DeviceMismatch);
        CHECK(contains(d.explanation, "device cam-0002"));
        CHECK(contains(d.explanation, "manifest seq 1 of device cam-0001"));
        CHECK_FALSE(dock.head.has_value());

        REQUIRE(dock.offer("cam-0001", device.issued[0]).verdict == Verdict::Append);
        v1::ChainHead foreign = *dock.head;
        foreign.set_device_id("cam-0009");
        dock.head = foreign;
        CHECK(dock.offer("cam-0001", device.issued[1]).verdict == Verdict::DeviceMismatch);
    }

    SECTION("an old seq the dock holds no hash for is treated as a fork")
    {
        for (size_t i = 0; i < 3; ++i)
            REQUIRE(dock.offer("cam-0001", device.issued[i]).verdict == Verdict::Append);
        dock.stored.erase(2);
        CHECK(dock.offer("cam-0001", device.issued[1]).verdict == Verdict::Fork);
    }
}

TEST_CASE("chain rules: verifyChainSegment names the first break", "[chain_rules]")
{
    const crypto::Backend &backend = dockBackend();
    TempDir dir;
    auto id = makeIdentity(backend, "cam-0001", generateKey(backend), dir.file("counter"));
    Device device{backend, *id, {}};
    device.run(5);

    auto segment = [&](const std::vector<v1::SignedManifest> &run) {
        std::vector<std::pair<v1::Manifest, crypto::Digest>> out;
        for (const auto &sm : run)
            out.emplace_back(must(parseManifest(sm)), manifestSha256(backend, sm));
        return out;
    };

    must(verifyChainSegment(segment(device.issued)));
    must(verifyChainSegment(segment({device.issued.begin() + 2, device.issued.end()})));
    must(verifyChainSegment({}));

    auto expectBreak = [&](const std::vector<v1::SignedManifest> &run, const std::string &part) {
        auto r = verifyChainSegment(segment(run));
        INFO(part);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Errc::Chain);
        CHECK(contains(r.error().message, part));
    };
    auto &m = device.issued;
    expectBreak({m[0], m[1], m[3], m[4]}, "manifest seq 4 of device cam-0001 follows seq 2: "
                                          "seq 3 is missing");
    expectBreak({m[0], m[2]}, "seq 2 is missing");
    expectBreak({m[0], m[1], m[1]}, "out of order or repeats");
    expectBreak({m[0], m[1], device.sign(3, device.hashOf(1))},
                "manifest seq 3 of device cam-0001 does not link to seq 2");
    expectBreak({device.sign(1, std::string(32, '\x01')), m[1]}, "zero hash");

    auto otherId = makeIdentity(backend, "cam-0002", generateKey(backend), dir.file("counter2"));
    v1::Manifest foreign = sampleClipManifest("cam-0002", 3, device.hashOf(2));
    expectBreak({m[0], m[1], must(signManifest(backend, *otherId, foreign))}, "two devices");
}
