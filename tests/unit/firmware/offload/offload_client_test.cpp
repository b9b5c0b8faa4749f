// The camera's side of the offload (firmware/offload) against a scripted dock: the real
// mutual-TLS transport (the camera's mbedTLS client, the dock's OpenSSL listener) on a
// test agency PKI, clips sealed by the camera's chain, receipts signed with the dock key.
// The dock follows proto/bwc/v1/offload.proto frame by frame, with knobs to drop the
// connection, refuse, resume, abort or forge its receipts.

#include "firmware/offload/offload_client.h"

#include <catch2/catch_test_macros.hpp>

#include <dirent.h>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/base/file.h"
#include "common/chain/clip_session.h"
#include "common/chain/manifest.h"
#include "common/net/platform/openssl/tls_server.h"
#include "common/net/tls.h"
#include "dock/pki/pki_store.h"
#include "tests/unit/common/chain/chain_test_util.h"
#include "tests/unit/dock/agency_test_util.h"
#include "tests/unit/firmware/offload/scripted_dock.h"

namespace bwc::fw {
namespace {

using chain::test::must;
using dock::test::cameraBackend;
using dock::test::contains;
using dock::test::dockBackend;
using test::DockLog;
using test::kDockId;
using test::Knobs;
using test::ScriptedDock;

constexpr int kTimeoutMs = 5000;

// ---------------------------------------------------------------------------------------
// The camera's host: records what the offload asked of it.

class TestHost final : public OffloadHost
{
public:
    explicit TestHost(ManualClock &clock) : clock_(clock) {}

    int64_t utcMs() const override { return clock_.utcMs(); }
    Expected<void> setClock(int64_t newUtcMs) override
    {
        clockSetTo.push_back(newUtcMs);
        clock_.setUtcMs(newUtcMs);
        return {};
    }
    Expected<void> setOfficer(const std::string &officerId) override
    {
        officer = officerId;
        return {};
    }
    Expected<void> saveConfig(ByteView configFile) override
    {
        const std::string text(asChars(configFile));
        if (text.find("format_version: 1") == std::string::npos)
            return Error(Errc::Config, "camd.conf (from the dock): format_version = 0: must be 1");
        if (savedConfig == text)
            return Error(Errc::Exists, "camd.conf: already saved");
        savedConfig = text;
        return {};
    }
    Bytes configSha256() const override { return Bytes(32, 0x11); }
    Expected<void> saveCrl(ByteView crlDer) override
    {
        savedCrl = Bytes(crlDer.begin(), crlDer.end());
        return {};
    }
    std::string fwVersion() const override { return "bwc-camd test"; }
    v1::StorageState storage() const override
    {
        v1::StorageState s;
        s.set_total_bytes(1 << 30);
        s.set_free_bytes(1 << 29);
        return s;
    }
    bool flagged(ByteView clipUuid) const override
    {
        return flaggedUuids.count(std::string(asChars(clipUuid))) != 0;
    }

    std::vector<int64_t> clockSetTo;
    std::string officer;
    std::optional<std::string> savedConfig;
    std::optional<Bytes> savedCrl;
    std::set<std::string> flaggedUuids;

private:
    ManualClock &clock_;
};

// ---------------------------------------------------------------------------------------
// The camera with a few sealed clips, and the offload run against a scripted dock.

std::set<std::string> filesIn(const std::string &dir)
{
    std::set<std::string> names;
    DIR *d = ::opendir(dir.c_str());
    REQUIRE(d != nullptr);
    while (const dirent *e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name != "." && name != "..")
            names.insert(name);
    }
    ::closedir(d);
    return names;
}

struct Camera {
    dock::test::Agency agency;
    pki::IssuedCert dockCert;
    crypto::P256KeyPair dockKey;
    TestHost host{agency.clock};
    std::vector<dock::test::Agency::Clip> clips;
    uint64_t bootSeq = 0;

    Camera()
        : dockCert(must(agency.pki->issueDock(kDockId, 365))),
          dockKey(dock::test::loadKey(dockCert.keyPath))
    {
    }

    // A BOOT manifest, then `n` sealed clips.
    void record(int n)
    {
        v1::Manifest boot;
        boot.set_kind(v1::MANIFEST_KIND_BOOT);
        boot.set_note("test boot");
        bootSeq = must(chain::parseManifest(must(agency.chain->issue(boot)))).seq();
        for (int i = 0; i < n; ++i)
            clips.push_back(agency.seal(90000 + size_t(i) * 1000));
    }

    net::TlsConfig cameraTls() const
    {
        return must(net::loadTlsConfig(agency.device.certPath, agency.device.keyPath,
                                       agency.pki->caCertPath(), agency.pki->crlPath()));
    }
    net::TlsConfig dockTls() const
    {
        return must(net::loadTlsConfig(dockCert.certPath, dockCert.keyPath,
                                       agency.pki->caCertPath(), agency.pki->crlPath()));
    }

    OffloadSettings settings(uint16_t port) const
    {
        OffloadSettings s;
        s.host = "127.0.0.1";
        s.port = port;
        s.tls = cameraTls();
        s.clipDir = agency.clipsDir;
        s.connectTimeoutMs = kTimeoutMs;
        s.ioTimeoutMs = kTimeoutMs;
        s.dataChunkBytes = 16 * 1024;
        return s;
    }

    struct Run {
        Expected<OffloadResult> result;
        DockLog log;
    };
    Run offload(Knobs knobs, std::optional<net::TlsConfig> dockTlsConfig = std::nullopt,
                std::function<void(OffloadSettings &)> adjust = {})
    {
        ScriptedDock dock(dockBackend(), dockTlsConfig ? *dockTlsConfig : dockTls(), dockKey,
                          std::move(knobs));
        OffloadSettings s = settings(dock.port());
        if (adjust)
            adjust(s);
        Expected<OffloadResult> result =
            runOffload(cameraBackend(), *agency.identity, *agency.chain, host, s);
        DockLog log = dock.join();
        return Run{std::move(result), std::move(log)};
    }

    std::vector<uint64_t> journal() const { return must(agency.chain->pendingManifests(0)); }
    std::set<std::string> clipFiles() const { return filesIn(agency.clipsDir); }
    std::string clipName(size_t i) const { return baseName(clips.at(i).clipPath); }
};

template <typename T> void requireError(const Expected<T> &r, Errc code, std::string_view phrase)
{
    REQUIRE_FALSE(r.ok());
    INFO("error: [" << errcName(r.error().code) << "] " << r.error().message);
    CHECK(r.error().code == code);
    CHECK(contains(r.error().message, phrase));
}

// Nothing deleted: every clip file and every journal file is still there.
void requireUntouched(const Camera &cam, const std::set<std::string> &files,
                      const std::vector<uint64_t> &journal)
{
    CHECK(cam.clipFiles() == files);
    CHECK(cam.journal() == journal);
}

// ---------------------------------------------------------------------------------------

TEST_CASE("offload: every manifest in seq order, files sent, receipt, wipe, journal emptied")
{
    Camera cam;
    cam.record(3);
    cam.host.flaggedUuids.insert(cam.clips[1].parsed.clip_uuid());
    std::vector<std::string> fileBytes;
    for (const auto &c : cam.clips)
        fileBytes.push_back(std::string(asChars(chain::test::readAll(c.clipPath))));
    const uint64_t head = cam.agency.chain->head().seq();
    REQUIRE(cam.journal() == std::vector<uint64_t>{1, 2, 3, 4});

    std::vector<std::pair<uint64_t, uint64_t>> progress;
    auto run = cam.offload({}, std::nullopt, [&](OffloadSettings &s) {
        s.progress = [&](uint64_t sent, uint64_t total) { progress.emplace_back(sent, total); };
    });
    INFO("dock: " << run.log.error);
    CHECK(run.log.error.empty());
    REQUIRE(run.result.ok());
    const OffloadResult &r = *run.result;

    // Hello: the device, its head, the pending clips (flag included), a fresh nonce.
    CHECK(run.log.hello.protocol_version() == 1);
    CHECK(run.log.hello.device_id() == "cam-0001");
    CHECK(run.log.hello.head().seq() == head);
    CHECK(run.log.hello.session_nonce().size() == 16);
    REQUIRE(run.log.hello.pending_size() == 3);
    CHECK(run.log.hello.pending(0).seq() == 2);
    CHECK_FALSE(run.log.hello.pending(0).flagged());
    CHECK(run.log.hello.pending(1).flagged());
    CHECK(run.log.hello.pending(2).ciphertext_bytes() == fileBytes[2].size());

    // All offered in seq order, every file received byte for byte.
    CHECK(run.log.offered == std::vector<uint64_t>{1, 2, 3, 4});
    uint64_t total = 0;
    for (size_t i = 0; i < 3; ++i) {
        CHECK(run.log.received.at(cam.clips[i].parsed.seq()) == fileBytes[i]);
        total += fileBytes[i].size();
    }
    CHECK(r.dockId == kDockId);
    CHECK(r.manifestsOffered == 4);
    CHECK(r.manifestsStored == 4);
    CHECK(r.bytesSent == total);
    CHECK(r.bytesResumedFrom == 0);
    REQUIRE_FALSE(progress.empty());
    CHECK(progress.back() == std::make_pair(total, total));

    // Only the clip files were deleted; the WIPE names them and the receipt.
    CHECK(r.wipedSeqs == std::vector<uint64_t>{2, 3, 4});
    CHECK(cam.clipFiles().empty());
    REQUIRE(run.log.wiped);
    const v1::Manifest wipe = must(chain::verifySignedManifest(
        cameraBackend(), cam.agency.identity->publicKey(), *run.log.wiped));
    CHECK(wipe.kind() == v1::MANIFEST_KIND_WIPE);
    CHECK(wipe.seq() == head + 1);
    REQUIRE(wipe.wiped_size() == 3);
    for (int i = 0; i < 3; ++i) {
        CHECK(wipe.wiped(i).seq() == cam.clips[size_t(i)].parsed.seq());
        CHECK(wipe.wiped(i).clip_uuid() == cam.clips[size_t(i)].parsed.clip_uuid());
    }
    REQUIRE(run.log.receiptBytes.size() == 2);
    CHECK(chain::digestEquals(wipe.receipt_sha256(),
                              dockBackend().sha256(asBytes(run.log.receiptBytes[0]))));
    CHECK(r.wipeSeq == wipe.seq());
    CHECK(r.wipeReceipted);
    CHECK(r.receiptLastSeq == wipe.seq());
    // The journal is empty; the head is the WIPE manifest.
    CHECK(cam.journal().empty());
    CHECK(cam.agency.chain->head().seq() == wipe.seq());
    CHECK(run.log.dones == 2); // before the receipt, and to end the session
}

TEST_CASE("offload: later dockings: nothing new, then a clip the dock refuses")
{
    Camera cam;
    cam.record(1);
    auto first = cam.offload({});
    REQUIRE(first.result.ok());
    REQUIRE(first.result->wipeReceipted);
    REQUIRE(cam.journal().empty());

    // Nothing to offer: Done, no receipt (this dock holds nothing), Done again.
    auto idle = cam.offload({});
    INFO("dock: " << idle.log.error);
    CHECK(idle.log.error.empty());
    REQUIRE(idle.result.ok());
    CHECK(idle.result->manifestsOffered == 0);
    CHECK(idle.result->wipedSeqs.empty());
    CHECK(idle.result->receiptLastSeq == 0);
    CHECK(idle.log.dones == 2);

    // A new clip that the dock refuses: kept, with its manifest, and no receipt.
    auto clip = cam.agency.seal();
    const auto files = cam.clipFiles();
    Knobs knobs;
    knobs.refuseSeq = clip.parsed.seq();
    auto refused = cam.offload(knobs);
    INFO("dock: " << refused.log.error);
    REQUIRE(refused.result.ok());
    CHECK(refused.result->refusedReason == "chain alarm: test refusal");
    CHECK(refused.result->wipedSeqs.empty());
    CHECK(refused.log.dones == 2);
    CHECK(cam.clipFiles() == files);
    CHECK(cam.journal() == std::vector<uint64_t>{clip.parsed.seq()});

    // The next docking takes it: a receipt for just that seq frees it.
    auto taken = cam.offload({});
    INFO("dock: " << taken.log.error);
    REQUIRE(taken.result.ok());
    CHECK(taken.result->wipedSeqs == std::vector<uint64_t>{clip.parsed.seq()});
    CHECK(taken.result->wipeReceipted);
    CHECK(cam.clipFiles().empty());
    CHECK(cam.journal().empty());
}

TEST_CASE("offload: Resume sends only the rest of a file")
{
    Camera cam;
    cam.record(2);
    const std::string whole(asChars(chain::test::readAll(cam.clips[0].clipPath)));
    Knobs knobs;
    const uint64_t seq = cam.clips[0].parsed.seq();
    knobs.resumeAt[seq] = 50000;
    auto run = cam.offload(knobs);
    INFO("dock: " << run.log.error);
    CHECK(run.log.error.empty());
    REQUIRE(run.result.ok());
    CHECK(run.result->bytesResumedFrom == 50000);
    CHECK(run.log.dataStart.at(seq) == 50000);
    CHECK(run.log.received.at(seq) == whole.substr(50000));
    CHECK(run.result->bytesSent ==
          whole.size() - 50000 + run.log.received.at(cam.clips[1].parsed.seq()).size());
    CHECK(run.result->wipedSeqs.size() == 2);
}

TEST_CASE("offload: a connection dropped at any point deletes nothing")
{
    const auto drop =
        GENERATE(Knobs::Drop::AfterHello, Knobs::Drop::MidData, Knobs::Drop::BeforeReceipt);
    INFO("drop point " << int(drop));
    Camera cam;
    cam.record(3);
    const auto files = cam.clipFiles();
    const auto journal = cam.journal();
    const uint64_t head = cam.agency.chain->head().seq();
    Knobs knobs;
    knobs.drop = drop;
    auto run = cam.offload(knobs);
    INFO("dock: " << run.log.error);
    CHECK(run.log.error.empty());
    requireError(run.result, Errc::Io, "dock 127.0.0.1");
    requireUntouched(cam, files, journal);
    CHECK(cam.agency.chain->head().seq() == head); // no WIPE signed
    if (drop == Knobs::Drop::MidData)
        CHECK(run.log.dataFrames == 1);
    if (drop == Knobs::Drop::BeforeReceipt)
        CHECK(run.log.offered.size() == 4);
}

TEST_CASE("offload: a receipt that does not verify deletes nothing")
{
    struct Forgery {
        const char *name;
        std::function<void(Knobs &, Camera &)> apply;
        const char *phrase;
    };
    const std::vector<Forgery> forgeries = {
        {"signed by another key",
         [](Knobs &k, Camera &) { k.forgeKey = chain::test::generateKey(dockBackend()); },
         "signature does not verify"},
        {"another session's nonce",
         [](Knobs &k, Camera &) {
             k.tamper = [](v1::Receipt &r) { r.set_session_nonce(std::string(16, 'x')); };
         },
         "session_nonce"},
        {"another device",
         [](Knobs &k, Camera &) { k.tamper = [](v1::Receipt &r) { r.set_device_id("cam-0002"); }; },
         "device_id"},
        {"another dock id",
         [](Knobs &k, Camera &) { k.tamper = [](v1::Receipt &r) { r.set_dock_id("dock-02"); }; },
         "dock_id"},
        {"another head",
         [](Knobs &k, Camera &) {
             k.tamper = [](v1::Receipt &r) {
                 std::string h = r.head_manifest_sha256();
                 h[0] = char(h[0] ^ 1);
                 r.set_head_manifest_sha256(h);
             };
         },
         "head_manifest_sha256"},
        {"beyond the camera's head",
         [](Knobs &k, Camera &) {
             k.tamper = [](v1::Receipt &r) { r.set_last_seq(r.last_seq() + 5); };
         },
         "camera's head"},
    };
    for (const Forgery &f : forgeries) {
        DYNAMIC_SECTION(f.name)
        {
            Camera cam;
            cam.record(2);
            const auto files = cam.clipFiles();
            const auto journal = cam.journal();
            const uint64_t head = cam.agency.chain->head().seq();
            Knobs knobs;
            f.apply(knobs, cam);
            auto run = cam.offload(knobs);
            requireError(run.result, Errc::Auth, f.phrase);
            requireUntouched(cam, files, journal);
            CHECK(cam.agency.chain->head().seq() == head);
        }
    }
}

TEST_CASE("offload: a receipted clip with other bytes than the camera's is kept")
{
    Camera cam;
    cam.record(3);
    const uint64_t odd = cam.clips[1].parsed.seq();
    Knobs knobs;
    knobs.tamper = [odd](v1::Receipt &r) {
        for (auto &c : *r.mutable_clips())
            if (c.seq() == odd)
                c.set_ciphertext_sha256(std::string(32, '\x5a'));
    };
    auto run = cam.offload(knobs);
    INFO("dock: " << run.log.error);
    REQUIRE(run.result.ok());
    CHECK(run.result->wipedSeqs ==
          std::vector<uint64_t>{cam.clips[0].parsed.seq(), cam.clips[2].parsed.seq()});
    CHECK(cam.clipFiles() == std::set<std::string>{cam.clipName(1)});
    REQUIRE(run.log.wiped);
    const v1::Manifest wipe = must(chain::parseManifest(*run.log.wiped));
    REQUIRE(wipe.wiped_size() == 2);
    CHECK(wipe.wiped(0).seq() == cam.clips[0].parsed.seq());
    CHECK(wipe.wiped(1).seq() == cam.clips[2].parsed.seq());
    // The kept clip's manifest stays in the journal, to be offered again.
    CHECK(cam.journal() == std::vector<uint64_t>{odd});
}

TEST_CASE("offload: after a refusal nothing more is offered and only the run before it is wiped")
{
    Camera cam;
    cam.record(3);
    Knobs knobs;
    knobs.refuseSeq = cam.clips[1].parsed.seq(); // seq 3
    auto run = cam.offload(knobs);
    INFO("dock: " << run.log.error);
    CHECK(run.log.error.empty());
    REQUIRE(run.result.ok());
    CHECK(run.log.offered == std::vector<uint64_t>{1, 2, 3});
    CHECK(run.result->manifestsOffered == 3);
    CHECK(run.result->manifestsStored == 2);
    CHECK(run.result->refusedReason == "chain alarm: test refusal");
    CHECK(run.result->wipedSeqs == std::vector<uint64_t>{2});
    CHECK(cam.clipFiles() == std::set<std::string>{cam.clipName(1), cam.clipName(2)});
    const uint64_t wipeSeq = run.result->wipeSeq;
    CHECK(wipeSeq == 5);
    // Seqs 3 and 4 stay; the WIPE waits in the journal (it does not follow the dock's head).
    CHECK(cam.journal() == std::vector<uint64_t>{3, 4, 5});
    CHECK_FALSE(run.log.wiped);
    CHECK(run.log.dones == 2);
}

TEST_CASE("offload: a WIPE manifest the dock refuses stays in the journal")
{
    Camera cam;
    cam.record(2);
    Knobs knobs;
    knobs.refuseWipe = true;
    auto run = cam.offload(knobs);
    INFO("dock: " << run.log.error);
    CHECK(run.log.error.empty());
    REQUIRE(run.result.ok());
    // The clips were receipted, so they are gone; the WIPE waits for the next session.
    CHECK(run.result->wipedSeqs == std::vector<uint64_t>{2, 3});
    CHECK(cam.clipFiles().empty());
    CHECK_FALSE(run.result->wipeReceipted);
    CHECK(run.result->refusedReason == "chain alarm: test refusal of the WIPE");
    CHECK(cam.journal() == std::vector<uint64_t>{run.result->wipeSeq});
    CHECK(run.log.dones == 2);
}

TEST_CASE("offload: the dock's time steps the clock and a CLOCK_SET manifest is offered")
{
    Camera cam;
    cam.record(1);
    const int64_t before = cam.agency.clock.utcMs();
    Knobs knobs;
    knobs.dockUtcMs = before + 3'600'000;
    knobs.officer = "officer-7";
    auto run = cam.offload(knobs);
    INFO("dock: " << run.log.error);
    REQUIRE(run.result.ok());
    REQUIRE(cam.host.clockSetTo == std::vector<int64_t>{before + 3'600'000});
    CHECK(run.result->clockSet);
    CHECK(cam.host.officer == "officer-7");
    CHECK(run.result->officerId == "officer-7");
    // Seq 3 is the CLOCK_SET manifest, offered after the clip.
    REQUIRE(run.log.manifests.count(3));
    const v1::Manifest m = must(chain::parseManifest(run.log.manifests.at(3)));
    CHECK(m.kind() == v1::MANIFEST_KIND_CLOCK_SET);
    CHECK(m.clock_old_utc_ms() == before);
    CHECK(m.clock_new_utc_ms() == before + 3'600'000);
    CHECK(m.clock_source() == v1::CLOCK_SOURCE_DOCK);
    CHECK(m.signed_utc_ms() >= before + 3'600'000);
    CHECK(run.log.offered == std::vector<uint64_t>{1, 2, 3});

    SECTION("a step of at most one second is left alone")
    {
        cam.agency.seal();
        Knobs small;
        small.dockUtcMs = cam.agency.clock.utcMs() + 900;
        auto again = cam.offload(small);
        REQUIRE(again.result.ok());
        CHECK_FALSE(again.result->clockSet);
        CHECK(cam.host.clockSetTo.size() == 1);
    }
}

TEST_CASE("offload: a configuration from the dock is saved and signed as CONFIG")
{
    Camera cam;
    cam.record(1);
    Knobs knobs;
    knobs.configFile = "format_version: 1\ndevice_id: \"cam-0001\"\n";
    auto run = cam.offload(knobs);
    INFO("dock: " << run.log.error);
    REQUIRE(run.result.ok());
    CHECK(run.result->configSaved);
    CHECK(run.result->configError.empty());
    REQUIRE(cam.host.savedConfig);
    CHECK(*cam.host.savedConfig == knobs.configFile);
    REQUIRE(run.log.manifests.count(3));
    const v1::Manifest m = must(chain::parseManifest(run.log.manifests.at(3)));
    CHECK(m.kind() == v1::MANIFEST_KIND_CONFIG);
    CHECK(chain::digestEquals(m.config_sha256(), dockBackend().sha256(asBytes(knobs.configFile))));

    SECTION("the same configuration again (waiting for a restart) signs nothing")
    {
        cam.agency.seal();
        auto again = cam.offload(knobs);
        INFO("dock: " << again.log.error);
        REQUIRE(again.result.ok());
        CHECK_FALSE(again.result->configSaved);
        CHECK(again.result->configError.empty());
        for (const auto &[seq, sm] : again.log.manifests)
            CHECK(must(chain::parseManifest(sm)).kind() != v1::MANIFEST_KIND_CONFIG);
    }
}

TEST_CASE("offload: an invalid configuration is not saved and the offload goes on")
{
    Camera cam;
    cam.record(1);
    Knobs knobs;
    knobs.configFile = "format_version: 0\n";
    auto run = cam.offload(knobs);
    INFO("dock: " << run.log.error);
    REQUIRE(run.result.ok());
    CHECK_FALSE(run.result->configSaved);
    CHECK(contains(run.result->configError, "format_version = 0"));
    CHECK_FALSE(cam.host.savedConfig);
    for (const auto &[seq, sm] : run.log.manifests)
        CHECK(must(chain::parseManifest(sm)).kind() != v1::MANIFEST_KIND_CONFIG);
    CHECK(run.result->wipedSeqs.size() == 1); // the clips still went
}

TEST_CASE("offload: a CRL from the dock is kept only when the agency signed it and it is newer")
{
    Camera cam;
    cam.record(0);
    SECTION("the CRL the camera has is left alone")
    {
        Knobs knobs;
        knobs.crl = cam.agency.pki->crlDer();
        auto run = cam.offload(knobs);
        REQUIRE(run.result.ok());
        CHECK_FALSE(run.result->crlSaved);
        CHECK(run.result->crlError.empty());
        CHECK_FALSE(cam.host.savedCrl);
    }
    SECTION("an older CRL is not kept")
    {
        const Bytes older = cam.agency.pki->crlDer();
        std::this_thread::sleep_for(std::chrono::milliseconds(1100)); // thisUpdate has 1 s steps
        must(cam.agency.pki->writeCrl(30));
        Knobs knobs;
        knobs.crl = older;
        auto run = cam.offload(knobs); // the camera and the dock use the new CRL
        REQUIRE(run.result.ok());
        CHECK_FALSE(run.result->crlSaved);
        CHECK(contains(run.result->crlError, "not newer"));
        CHECK_FALSE(cam.host.savedCrl);
    }
    SECTION("a newer CRL of the agency is saved")
    {
        const net::TlsConfig cameraTls = cam.cameraTls(); // the CRL in use
        const net::TlsConfig dockTls = cam.dockTls();
        cam.agency.clock.advanceMs(2000);
        std::this_thread::sleep_for(std::chrono::milliseconds(1100)); // thisUpdate has 1 s steps
        must(cam.agency.pki->writeCrl(30));
        Knobs knobs;
        knobs.crl = cam.agency.pki->crlDer();
        auto run = cam.offload(knobs, dockTls, [&](OffloadSettings &s) { s.tls = cameraTls; });
        REQUIRE(run.result.ok());
        INFO(run.result->crlError);
        CHECK(run.result->crlSaved);
        REQUIRE(cam.host.savedCrl);
        CHECK(*cam.host.savedCrl == cam.agency.pki->crlDer());
    }
    SECTION("a CRL of another CA is not saved")
    {
        auto other = must(pki::PkiStore::init(cam.agency.dir.file("other"), "Other", 365));
        Knobs knobs;
        knobs.crl = other.crlDer();
        auto run = cam.offload(knobs);
        REQUIRE(run.result.ok());
        CHECK_FALSE(run.result->crlSaved);
        CHECK_FALSE(run.result->crlError.empty());
        CHECK_FALSE(cam.host.savedCrl);
    }
}

TEST_CASE("offload: an Abort from the dock is a protocol error with its message")
{
    Camera cam;
    cam.record(1);
    const auto files = cam.clipFiles();
    const auto journal = cam.journal();
    Knobs knobs;
    knobs.abortAfterHello = "already in session";
    auto run = cam.offload(knobs);
    requireError(run.result, Errc::Protocol, "already in session");
    requireUntouched(cam, files, journal);
}

TEST_CASE("offload: a dock whose certificate is from another CA is rejected")
{
    Camera cam;
    cam.record(1);
    const auto files = cam.clipFiles();
    const auto journal = cam.journal();
    auto other = must(pki::PkiStore::init(cam.agency.dir.file("other"), "Rogue", 365));
    auto rogue = must(other.issueDock(kDockId, 365));
    // The rogue dock trusts the agency (it accepts the camera), but its own certificate
    // does not chain to the agency CA.
    auto tls = must(net::loadTlsConfig(rogue.certPath, rogue.keyPath, cam.agency.pki->caCertPath(),
                                       cam.agency.pki->crlPath()));
    auto run = cam.offload({}, tls);
    REQUIRE_FALSE(run.result.ok());
    INFO(run.result.error().message);
    CHECK(run.result.error().code == Errc::Cert);
    requireUntouched(cam, files, journal);
}

TEST_CASE("offload: cancel stops the session and deletes nothing")
{
    Camera cam;
    cam.record(2);
    const auto files = cam.clipFiles();
    const auto journal = cam.journal();
    std::atomic<bool> cancel{false};
    auto run = cam.offload({}, std::nullopt, [&](OffloadSettings &s) {
        s.cancel = &cancel;
        s.progress = [&](uint64_t, uint64_t) { cancel = true; };
    });
    requireError(run.result, Errc::Io, "cancelled");
    requireUntouched(cam, files, journal);
}

TEST_CASE("verifyReceipt checks signature, dock, device, nonce and range")
{
    Camera cam;
    const Bytes nonce(16, 0x42);
    v1::Receipt r;
    r.set_format_version(1);
    r.set_dock_id(kDockId);
    r.set_device_id("cam-0001");
    r.set_first_seq(1);
    r.set_last_seq(3);
    r.set_head_manifest_sha256(std::string(32, '\x01'));
    r.set_session_nonce(std::string(asChars(nonce)));
    const std::vector<Bytes> chainDer = cam.dockTls().ownCertChainDer;
    auto sign = [&](const v1::Receipt &receipt) {
        v1::SignedReceipt sr;
        sr.set_receipt(receipt.SerializeAsString());
        sr.set_signature(std::string(
            asChars(must(dockBackend().ecdsaSign(cam.dockKey.priv, asBytes(sr.receipt()))))));
        return sr;
    };
    auto ok = verifyReceipt(cameraBackend(), sign(r), chainDer, kDockId, "cam-0001", nonce);
    REQUIRE(ok.ok());
    CHECK(ok->last_seq() == 3);

    v1::Receipt empty = r;
    empty.set_first_seq(4);
    requireError(verifyReceipt(cameraBackend(), sign(empty), chainDer, kDockId, "cam-0001", nonce),
                 Errc::Auth, "seq range");
    v1::Receipt version = r;
    version.set_format_version(2);
    requireError(
        verifyReceipt(cameraBackend(), sign(version), chainDer, kDockId, "cam-0001", nonce),
        Errc::Auth, "format_version");
    v1::SignedReceipt flipped = sign(r);
    flipped.mutable_receipt()->back() ^= 1;
    requireError(verifyReceipt(cameraBackend(), flipped, chainDer, kDockId, "cam-0001", nonce),
                 Errc::Auth, "signature");
}

} // namespace
} // namespace bwc::fw
