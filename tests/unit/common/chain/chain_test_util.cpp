#include "tests/unit/common/chain/chain_test_util.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <unistd.h>

#include "common/base/file.h"
#include "common/chain/chain_rules.h"
#include "common/chain/chain_state.h"
#include "common/chain/manifest.h"

namespace bwc::chain::test
{

const crypto::Backend &deviceBackend()
{
    return backendFor(BackendKind::Mbedtls);
}

const crypto::Backend &dockBackend()
{
    return backendFor(backendKinds().front());
}

TempDir::TempDir()
{
    // A RAM file system where there is one: power cuts are simulated, so real syncs would
    // only cost time (several milliseconds each on a disk, thousands of them per run).
    std::filesystem::path base = std::filesystem::temp_directory_path();
    if (::access("/dev/shm", W_OK) == 0)
        base = "/dev/shm";
    // mkdtemp replaces the six trailing X characters.
    std::string pattern = (base / "bwc-chain-").string() + std::string(6, 'X');
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    REQUIRE(::mkdtemp(buf.data()) != nullptr);
    path_ = buf.data();
}

TempDir::~TempDir()
{
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

crypto::P256KeyPair generateKey(const crypto::Backend &backend)
{
    return must(backend.p256Generate());
}

std::unique_ptr<SoftwareIdentity> makeIdentity(const crypto::Backend &backend,
                                               const std::string &deviceId,
                                               const crypto::P256KeyPair &key,
                                               const std::string &counterPath)
{
    return must(SoftwareIdentity::fromParts(backend, deviceId, key, {}, counterPath));
}

std::string zeroHash()
{
    return std::string(32, '\0');
}

std::string hashString(const crypto::Digest &digest)
{
    return std::string(reinterpret_cast<const char *>(digest.data()), digest.size());
}

v1::Manifest sampleClipManifest(const std::string &deviceId, uint64_t seq,
                                const std::string &prevHash)
{
    v1::Manifest m;
    m.set_format_version(1);
    m.set_device_id(deviceId);
    m.set_seq(seq);
    m.set_prev_manifest_sha256(prevHash);
    m.set_kind(v1::MANIFEST_KIND_CLIP);
    m.set_signed_utc_ms(1'760'000'000'000);
    m.set_fw_version("bwc-camd 0.1.0");
    m.set_clip_uuid(std::string(16, '\x3f'));
    m.set_header_sha256(std::string(32, '\x11'));
    m.set_ciphertext_sha256(std::string(32, '\x22'));
    m.set_ciphertext_bytes(123456);
    m.set_plaintext_sha256(std::string(32, '\x33'));
    auto *s = m.add_streams();
    s->set_stream_id(0);
    s->set_chunks(3);
    s->set_plaintext_bytes(150000);
    m.set_officer_id("officer-17");
    m.set_start_utc_ms(1'759'999'990'000);
    m.set_end_utc_ms(1'760'000'000'000);
    m.set_trigger(v1::TRIGGER_BUTTON);
    return m;
}

Bytes readAll(const std::string &path)
{
    return must(readFile(path));
}

void writeBytes(const std::string &path, ByteView data)
{
    must(atomicReplace(path, data));
}

} // namespace bwc::chain::test

namespace bwc::chain::test
{

Bytes patternBytes(uint64_t offset, size_t len, uint8_t salt)
{
    // The stream repeats every 4 MiB, which no test records; built once per salt.
    constexpr size_t kPeriod = 4u << 20;
    static std::map<uint8_t, Bytes> cache;
    Bytes &period = cache[salt];
    if (period.empty()) {
        period.resize(kPeriod);
        for (size_t x = 0; x < kPeriod; ++x)
            period[x] = uint8_t((x * 131) ^ (x >> 8) ^ (x >> 17) ^ salt);
    }
    Bytes out(len);
    for (size_t done = 0; done < len;) {
        size_t at = size_t((offset + done) % kPeriod);
        size_t n = std::min(len - done, kPeriod - at);
        std::memcpy(out.data() + done, period.data() + at, n);
        done += n;
    }
    return out;
}

SessionOptions sessionOptions(const std::string &clipDir, const crypto::P256Point &recipient,
                              int64_t startUtcMs)
{
    SessionOptions o;
    o.clipDir = clipDir;
    o.writer.streams = {
        {container::kMediaStreamId, v1::STREAM_TYPE_MEDIA, "video/mp4"},
        {container::kMetadataStreamId, v1::STREAM_TYPE_METADATA, "application/x-bwc-metadata"},
    };
    o.writer.recipients = {recipient};
    o.officerId = "officer-17";
    o.trigger = v1::TRIGGER_BUTTON;
    o.prerecordMs = 30000;
    o.startUtcMs = startUtcMs;
    o.fwVersion = "bwc-camd 0.1.0-test";
    o.configSha256 = Bytes(32, 0xc5);
    o.clockSource = v1::CLOCK_SOURCE_DOCK;
    o.clockErrorMs = 40;
    return o;
}

OpenedClip openClip(const crypto::Backend &backend, const v1::Manifest &manifest,
                    const std::string &clipPath, const crypto::P256KeyPair &recipient)
{
    INFO("clip " << clipPath << " against " << describeManifest(manifest));
    REQUIRE((manifest.kind() == v1::MANIFEST_KIND_CLIP ||
             manifest.kind() == v1::MANIFEST_KIND_INTERRUPTED));
    Bytes file = readAll(clipPath);
    REQUIRE(file.size() == manifest.ciphertext_bytes());
    REQUIRE(digestEquals(manifest.ciphertext_sha256(), backend.sha256(file)));

    auto reader = must(container::ClipReader::open(backend, clipPath));
    REQUIRE(digestEquals(manifest.header_sha256(), reader->headerSha256()));
    container::ClipUuid uuid = reader->clipUuid();
    REQUIRE(std::string(asChars(ByteView(uuid.data(), uuid.size()))) == manifest.clip_uuid());
    must(reader->unlock(recipient));

    OpenedClip out;
    container::ReadOptions options;
    options.decrypt = true;
    if (manifest.kind() == v1::MANIFEST_KIND_INTERRUPTED) {
        std::map<uint8_t, uint64_t> counts;
        for (const auto &s : manifest.streams())
            counts[uint8_t(s.stream_id())] = s.chunks();
        options.interruptedCounts = counts;
    }
    options.sink = [&](uint8_t streamId, ByteView plaintext) -> Expected<void> {
        Bytes &dst = streamId == container::kMediaStreamId ? out.media : out.metadata;
        const size_t at = dst.size();
        dst.resize(at + plaintext.size());
        if (!plaintext.empty())
            std::memcpy(dst.data() + at, plaintext.data(), plaintext.size());
        return {};
    };
    out.result = must(reader->read(options));
    REQUIRE(out.result.decrypted);
    REQUIRE(out.result.fileBytes == manifest.ciphertext_bytes());
    REQUIRE(digestEquals(manifest.ciphertext_sha256(), out.result.ciphertextSha256));
    REQUIRE(digestEquals(manifest.plaintext_sha256(), out.result.mediaPlaintextSha256));
    REQUIRE(digestEquals(manifest.plaintext_sha256(), backend.sha256(out.media)));
    for (const auto &s : manifest.streams()) {
        auto it = out.result.streams.find(uint8_t(s.stream_id()));
        uint64_t chunks = it == out.result.streams.end() ? 0 : it->second.chunks;
        uint64_t bytes = it == out.result.streams.end() ? 0 : it->second.plaintextBytes;
        INFO("stream " << s.stream_id());
        REQUIRE(chunks == s.chunks());
        REQUIRE(bytes == s.plaintext_bytes());
    }
    return out;
}

std::vector<v1::Manifest> checkWholeChain(const crypto::Backend &backend, const ChainState &chain,
                                          const crypto::P256Point &key)
{
    std::vector<uint64_t> seqs = must(chain.pendingManifests(0));
    REQUIRE(seqs.size() == chain.head().seq());
    std::vector<std::pair<v1::Manifest, crypto::Digest>> run;
    for (size_t i = 0; i < seqs.size(); ++i) {
        REQUIRE(seqs[i] == i + 1);
        v1::SignedManifest sm = must(chain.loadManifest(seqs[i]));
        run.emplace_back(must(verifySignedManifest(backend, key, sm)), manifestSha256(backend, sm));
    }
    must(verifyChainSegment(run));
    if (!run.empty())
        REQUIRE(digestEquals(chain.head().manifest_sha256(), run.back().second));
    std::vector<v1::Manifest> out;
    for (auto &entry : run)
        out.push_back(entry.first);
    return out;
}

} // namespace bwc::chain::test
