#include "common/chain/chain_state.h"

#include <catch2/catch_test_macros.hpp>

#include "common/base/clock.h"
#include "common/base/file.h"
#include "common/chain/chain_rules.h"
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

v1::Manifest configManifest()
{
    v1::Manifest m;
    m.set_kind(v1::MANIFEST_KIND_CONFIG);
    m.set_config_sha256(std::string(32, '\x0c'));
    return m;
}

struct Fixture {
    const crypto::Backend &backend = deviceBackend();
    TempDir dir;
    crypto::P256KeyPair key = generateKey(backend);
    ManualClock clock;
    std::string chainDir = dir.file("chain");
    std::string counter = dir.file("counter");

    std::unique_ptr<SoftwareIdentity> identity()
    {
        return makeIdentity(backend, "cam-0001", key, counter);
    }
};

} // namespace

TEST_CASE("chain state: issue, reopen, continue", "[chain_state]")
{
    Fixture f;
    auto id = f.identity();
    {
        auto chain = must(ChainState::open(f.backend, *id, f.chainDir, f.clock));
        CHECK(chain->head().seq() == 0);
        CHECK(chain->head().manifest_sha256() == zeroHash());
        CHECK(chain->recoveryNotes().empty());
        for (int i = 0; i < 3; ++i) {
            f.clock.advanceMs(1000);
            v1::SignedManifest sm = must(chain->issue(configManifest()));
            v1::Manifest m = must(verifySignedManifest(f.backend, f.key.pub, sm));
            CHECK(m.seq() == uint64_t(i + 1));
            CHECK(m.device_id() == "cam-0001");
            CHECK(m.format_version() == 1);
            CHECK(m.signed_utc_ms() == f.clock.utcMs());
            CHECK(pathExists(chain->manifestPath(m.seq())));
        }
        CHECK(chain->head().seq() == 3);
        checkWholeChain(f.backend, *chain, f.key.pub);
    }
    auto reopened = must(ChainState::open(f.backend, *id, f.chainDir, f.clock));
    CHECK(reopened->head().seq() == 3);
    CHECK(reopened->recoveryNotes().empty());
    must(reopened->issue(configManifest()));
    CHECK(reopened->head().seq() == 4);
    CHECK(id->counterValue() == 4);
    auto all = checkWholeChain(f.backend, *reopened, f.key.pub);
    CHECK(all.size() == 4);

    // After a dock receipt the device drops manifests; the head stays.
    CHECK(must(reopened->pendingManifests(2)) == std::vector<uint64_t>{3, 4});
    must(reopened->removeManifest(1));
    must(reopened->removeManifest(2));
    CHECK(must(reopened->pendingManifests(0)) == std::vector<uint64_t>{3, 4});
    auto missing = reopened->removeManifest(2);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().code == Errc::NotFound);
    auto beyond = reopened->removeManifest(5);
    REQUIRE_FALSE(beyond.ok());
    auto again = must(ChainState::open(f.backend, *id, f.chainDir, f.clock));
    CHECK(again->head().seq() == 4);
    CHECK(must(again->issue(configManifest())).manifest().size() > 0);
    CHECK(again->head().seq() == 5);
}

TEST_CASE("chain state: a manifest written before its head is adopted on open", "[chain_state]")
{
    Fixture f;
    auto id = f.identity();
    std::string headBefore;
    v1::SignedManifest second;
    {
        auto chain = must(ChainState::open(f.backend, *id, f.chainDir, f.clock));
        must(chain->issue(configManifest()));
        Bytes head = readAll(f.chainDir + "/head");
        headBefore.assign(head.begin(), head.end());
        second = must(chain->issue(configManifest()));
    }
    // The power went after the manifest file was durable and before the head was replaced.
    writeBytes(f.chainDir + "/head", asBytes(headBefore));
    // An interrupted atomic write of a third manifest left its temp file behind.
    writeBytes(f.chainDir + "/manifests/" + manifestFileName(3) + ".tmp", asBytes("partial"));

    auto chain = must(ChainState::open(f.backend, *id, f.chainDir, f.clock));
    CHECK(chain->head().seq() == 2);
    CHECK(digestEquals(chain->head().manifest_sha256(), manifestSha256(f.backend, second)));
    REQUIRE(chain->recoveryNotes().size() == 1);
    CHECK(contains(chain->recoveryNotes()[0], "seq 2: adopted"));
    CHECK_FALSE(pathExists(f.chainDir + "/manifests/" + manifestFileName(3) + ".tmp"));
    auto all = checkWholeChain(f.backend, *chain, f.key.pub);
    CHECK(all.size() == 2);
    CHECK(all[1].kind() == v1::MANIFEST_KIND_CONFIG);

    // The head was persisted: a second open has nothing to do.
    auto again = must(ChainState::open(f.backend, *id, f.chainDir, f.clock));
    CHECK(again->head().seq() == 2);
    CHECK(again->recoveryNotes().empty());
}

TEST_CASE("chain state: seqs the counter consumed without a manifest get BOOT manifests",
          "[chain_state]")
{
    Fixture f;
    auto id = f.identity();
    {
        auto chain = must(ChainState::open(f.backend, *id, f.chainDir, f.clock));
        must(chain->issue(configManifest()));
    }
    // Two issues that got no further than the counter.
    must(id->counterIncrement());
    must(id->counterIncrement());

    auto chain = must(ChainState::open(f.backend, *id, f.chainDir, f.clock));
    CHECK(chain->head().seq() == 3);
    REQUIRE(chain->recoveryNotes().size() == 2);
    auto all = checkWholeChain(f.backend, *chain, f.key.pub);
    REQUIRE(all.size() == 3);
    for (uint64_t seq : {2u, 3u}) {
        const v1::Manifest &m = all[seq - 1];
        CHECK(m.kind() == v1::MANIFEST_KIND_BOOT);
        CHECK(contains(m.note(), "seq " + std::to_string(seq) +
                                     " was consumed without a manifest (power cut while "
                                     "sealing)"));
    }

    // The counter moving ahead while running is filled by issue() the same way.
    must(id->counterIncrement());
    v1::SignedManifest sm = must(chain->issue(configManifest()));
    CHECK(must(parseManifest(sm)).seq() == 5);
    all = checkWholeChain(f.backend, *chain, f.key.pub);
    REQUIRE(all.size() == 5);
    CHECK(all[3].kind() == v1::MANIFEST_KIND_BOOT);
    CHECK(all[4].kind() == v1::MANIFEST_KIND_CONFIG);
}

TEST_CASE("chain state: a damaged journal file beyond the head is moved aside", "[chain_state]")
{
    Fixture f;
    auto id = f.identity();
    {
        auto chain = must(ChainState::open(f.backend, *id, f.chainDir, f.clock));
        must(chain->issue(configManifest()));
        must(chain->issue(configManifest()));
    }
    const std::string seq3 = f.chainDir + "/manifests/" + manifestFileName(3);

    SECTION("a manifest whose signature does not verify")
    {
        // Seq 3 was consumed and its file written, then damaged on flash.
        must(id->counterIncrement());
        v1::Manifest m = configManifest();
        m.set_format_version(1);
        m.set_device_id("cam-0001");
        m.set_seq(3);
        m.set_prev_manifest_sha256(std::string(32, '\x00'));
        m.set_note("original");
        v1::SignedManifest sm = must(signManifest(f.backend, *id, m));
        std::string bytes = sm.manifest();
        bytes[bytes.find("original")] = 'O';
        sm.set_manifest(bytes);
        writeBytes(seq3, serializeSignedManifest(sm));
    }
    SECTION("a file that is not a manifest")
    {
        must(id->counterIncrement());
        writeBytes(seq3, asBytes("\x0a\x05garbage"));
    }
    SECTION("a manifest signed by another key")
    {
        must(id->counterIncrement());
        auto other = makeIdentity(f.backend, "cam-0001", generateKey(f.backend),
                                  f.dir.file("other-counter"));
        auto prev = must(readManifestFile(f.chainDir + "/manifests/" + manifestFileName(2)));
        v1::Manifest m = configManifest();
        m.set_format_version(1);
        m.set_device_id("cam-0001");
        m.set_seq(3);
        m.set_prev_manifest_sha256(hashString(manifestSha256(f.backend, prev)));
        writeBytes(seq3, serializeSignedManifest(must(signManifest(f.backend, *other, m))));
    }

    auto chain = must(ChainState::open(f.backend, *id, f.chainDir, f.clock));
    CHECK_FALSE(pathExists(seq3 + ".tmp"));
    CHECK(pathExists(seq3 + ".rejected"));
    CHECK(chain->head().seq() == 3);
    REQUIRE(chain->recoveryNotes().size() == 2);
    CHECK(contains(chain->recoveryNotes()[0], "moved aside to " + seq3 + ".rejected"));
    auto all = checkWholeChain(f.backend, *chain, f.key.pub);
    REQUIRE(all.size() == 3);
    CHECK(all[2].kind() == v1::MANIFEST_KIND_BOOT);
    CHECK(contains(all[2].note(), "rejected at boot"));
    CHECK(contains(all[2].note(), "this BOOT manifest takes its place"));
}

TEST_CASE("chain state: refuses another device's chain and a counter behind the head",
          "[chain_state]")
{
    Fixture f;
    auto id = f.identity();
    {
        auto chain = must(ChainState::open(f.backend, *id, f.chainDir, f.clock));
        must(chain->issue(configManifest()));
        must(chain->issue(configManifest()));
    }
    auto other = makeIdentity(f.backend, "cam-0002", f.key, f.dir.file("counter2"));
    auto foreign = ChainState::open(f.backend, *other, f.chainDir, f.clock);
    REQUIRE_FALSE(foreign.ok());
    CHECK(foreign.error().code == Errc::Config);
    CHECK(contains(foreign.error().message, "belongs to device cam-0001"));

    // The counter file was restored from an old backup.
    writeBytes(f.counter, asBytes("1\n"));
    auto rolledBack = f.identity();
    auto r = ChainState::open(f.backend, *rolledBack, f.chainDir, f.clock);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::Chain);
    CHECK(contains(r.error().message, "behind the chain head seq 2"));

    // A head file that is not a ChainHead.
    writeBytes(f.counter, asBytes("2\n"));
    writeBytes(f.chainDir + "/head", asBytes("\xff\xff"));
    auto restored = f.identity();
    auto damaged = ChainState::open(f.backend, *restored, f.chainDir, f.clock);
    REQUIRE_FALSE(damaged.ok());
    CHECK(damaged.error().code == Errc::Format);
}

TEST_CASE("chain state: findClipManifest finds the clip's manifest", "[chain_state]")
{
    Fixture f;
    auto id = f.identity();
    auto chain = must(ChainState::open(f.backend, *id, f.chainDir, f.clock));
    must(chain->issue(configManifest()));
    v1::Manifest clip = sampleClipManifest("cam-0001", 1, zeroHash());
    clip.set_clip_uuid(std::string(16, '\x42'));
    must(chain->issue(clip));
    must(chain->issue(configManifest()));

    Bytes uuid(16, 0x42);
    CHECK(must(chain->findClipManifest(uuid)) == std::optional<uint64_t>(2));
    Bytes otherUuid(16, 0x43);
    CHECK_FALSE(must(chain->findClipManifest(otherUuid)).has_value());
}
