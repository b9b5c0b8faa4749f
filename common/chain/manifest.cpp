#include "common/chain/manifest.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <set>

#include "common/base/file.h"

namespace bwc::chain
{

std::string printableForMessage(std::string_view text)
{
    constexpr size_t kMaxShown = 64;
    std::string out;
    for (char c : text.substr(0, kMaxShown))
        out += (c >= 0x20 && c <= 0x7e) ? c : '?';
    if (text.size() > kMaxShown)
        out += "...";
    return out;
}

std::string describeManifest(const v1::Manifest &manifest)
{
    std::string device = manifest.device_id().empty()
                             ? std::string("an unnamed device")
                             : "device " + printableForMessage(manifest.device_id());
    return "manifest seq " + std::to_string(manifest.seq()) + " of " + device;
}

bool digestEquals(std::string_view bytes, const crypto::Digest &digest)
{
    return bytes.size() == digest.size() && std::memcmp(bytes.data(), digest.data(), 32) == 0;
}

std::string digestString(const crypto::Digest &digest)
{
    return std::string(reinterpret_cast<const char *>(digest.data()), digest.size());
}

namespace
{

bool isManifestKindKnown(v1::ManifestKind kind)
{
    return v1::ManifestKind_IsValid(kind) && kind != v1::MANIFEST_KIND_UNSPECIFIED;
}

std::string sizeMismatch(std::string_view field, size_t have, size_t want)
{
    return std::string(field) + " is " + std::to_string(have) + " bytes, expected " +
           std::to_string(want);
}

} // namespace

Expected<void> checkManifest(const v1::Manifest &m)
{
    auto fail = [&](const std::string &what) {
        return Error(Errc::Format, describeManifest(m) + ": " + what +
                                       " (manifest malformed or written by an incompatible "
                                       "version)");
    };
    if (m.format_version() != kManifestFormatVersion)
        return fail("format_version is " + std::to_string(m.format_version()) + ", expected " +
                    std::to_string(kManifestFormatVersion));
    if (!isPrintableDeviceId(m.device_id()))
        return fail("device_id is empty, too long or not printable");
    if (m.seq() == 0)
        return fail("seq is 0; the first manifest of a device is seq 1");
    if (m.prev_manifest_sha256().size() != crypto::kSha256Len)
        return fail(sizeMismatch("prev_manifest_sha256", m.prev_manifest_sha256().size(),
                                 crypto::kSha256Len));
    if (!isManifestKindKnown(m.kind()))
        return fail("kind " + std::to_string(int(m.kind())) + " is not a known manifest kind");
    if (!m.config_sha256().empty() && m.config_sha256().size() != crypto::kSha256Len)
        return fail(sizeMismatch("config_sha256", m.config_sha256().size(), crypto::kSha256Len));

    if (m.kind() == v1::MANIFEST_KIND_CLIP || m.kind() == v1::MANIFEST_KIND_INTERRUPTED) {
        if (m.clip_uuid().size() != kClipUuidLen)
            return fail(sizeMismatch("clip_uuid", m.clip_uuid().size(), kClipUuidLen));
        if (m.header_sha256().size() != crypto::kSha256Len)
            return fail(
                sizeMismatch("header_sha256", m.header_sha256().size(), crypto::kSha256Len));
        if (m.ciphertext_sha256().size() != crypto::kSha256Len)
            return fail(sizeMismatch("ciphertext_sha256", m.ciphertext_sha256().size(),
                                     crypto::kSha256Len));
        if (m.plaintext_sha256().size() != crypto::kSha256Len)
            return fail(
                sizeMismatch("plaintext_sha256", m.plaintext_sha256().size(), crypto::kSha256Len));
        if (m.streams_size() == 0)
            return fail("streams is empty; a clip manifest counts the chunks of every stream");
        std::set<uint32_t> seen;
        for (const auto &s : m.streams()) {
            if (s.stream_id() > 255)
                return fail("streams names stream_id " + std::to_string(s.stream_id()) +
                            ", but stream ids are one byte");
            if (!seen.insert(s.stream_id()).second)
                return fail("streams names stream_id " + std::to_string(s.stream_id()) + " twice");
        }
        if (!m.continues_clip_uuid().empty() && m.continues_clip_uuid().size() != kClipUuidLen)
            return fail(
                sizeMismatch("continues_clip_uuid", m.continues_clip_uuid().size(), kClipUuidLen));
    }
    if (m.kind() == v1::MANIFEST_KIND_WIPE) {
        if (m.wiped_size() == 0)
            return fail("wiped is empty; a WIPE manifest names at least one clip");
        for (int i = 0; i < m.wiped_size(); ++i) {
            if (m.wiped(i).clip_uuid().size() != kClipUuidLen)
                return fail(sizeMismatch("wiped[" + std::to_string(i) + "].clip_uuid",
                                         m.wiped(i).clip_uuid().size(), kClipUuidLen));
        }
        if (!m.receipt_sha256().empty() && m.receipt_sha256().size() != crypto::kSha256Len)
            return fail(
                sizeMismatch("receipt_sha256", m.receipt_sha256().size(), crypto::kSha256Len));
    }
    return {};
}

Expected<v1::SignedManifest> signManifest(const crypto::Backend &backend,
                                          const DeviceIdentity &identity,
                                          const v1::Manifest &manifest)
{
    if (manifest.device_id() != identity.id())
        return Error(Errc::Internal, describeManifest(manifest) +
                                         ": refusing to sign it with the key of device " +
                                         identity.id());
    BWC_TRY(checkManifest(manifest));
    std::string bytes;
    if (!manifest.SerializeToString(&bytes))
        return Error(Errc::Internal, describeManifest(manifest) + ": serialisation failed");
    if (bytes.size() + 256 > kMaxSignedManifestBytes)
        return Error(Errc::Internal, describeManifest(manifest) + ": " +
                                         std::to_string(bytes.size()) +
                                         " bytes is too large for a manifest");
    auto signature = identity.signDigest(backend.sha256(asBytes(bytes)));
    if (!signature)
        return std::move(signature).error().context(describeManifest(manifest));
    v1::SignedManifest out;
    out.set_manifest(std::move(bytes));
    out.set_signature(std::string(signature->begin(), signature->end()));
    return out;
}

Expected<v1::SignedManifest> parseSignedManifest(ByteView data)
{
    if (data.size() > kMaxSignedManifestBytes)
        return Error(Errc::Format, "signed manifest is " + std::to_string(data.size()) +
                                       " bytes, more than the 1 MiB limit (not a manifest, "
                                       "or corrupted)");
    v1::SignedManifest out;
    if (!out.ParseFromArray(data.data(), int(data.size())))
        return Error(Errc::Format,
                     "signed manifest: not a SignedManifest protobuf (corrupted, or not a "
                     "manifest file)");
    if (out.manifest().empty())
        return Error(Errc::Format, "signed manifest: the manifest bytes are missing");
    if (out.signature().empty())
        return Error(Errc::Format, "signed manifest: the signature is missing (unsigned "
                                   "manifest)");
    return out;
}

Bytes serializeSignedManifest(const v1::SignedManifest &signedManifest)
{
    std::string s = signedManifest.SerializeAsString();
    return Bytes(s.begin(), s.end());
}

namespace
{

Expected<v1::Manifest> parseManifestBytes(const std::string &bytes)
{
    if (bytes.empty())
        return Error(Errc::Format, "signed manifest: the manifest bytes are missing");
    if (bytes.size() > kMaxSignedManifestBytes)
        return Error(Errc::Format, "manifest is " + std::to_string(bytes.size()) +
                                       " bytes, more than the 1 MiB limit");
    v1::Manifest m;
    if (!m.ParseFromString(bytes))
        return Error(Errc::Format, "manifest: the signed bytes are not a Manifest protobuf "
                                   "(corrupted, or not a manifest)");
    return m;
}

} // namespace

Expected<v1::Manifest> parseManifest(const v1::SignedManifest &signedManifest)
{
    BWC_ASSIGN(m, parseManifestBytes(signedManifest.manifest()));
    BWC_TRY(checkManifest(m));
    return m;
}

Expected<v1::Manifest> verifySignedManifest(const crypto::Backend &backend,
                                            const crypto::P256Point &signer,
                                            const v1::SignedManifest &signedManifest)
{
    // Parsed only to name the manifest in messages; nothing in it is trusted before the
    // signature over these exact bytes has verified.
    BWC_ASSIGN(m, parseManifestBytes(signedManifest.manifest()));
    if (signedManifest.signature().empty())
        return Error(Errc::Format, describeManifest(m) + ": the signature is missing");
    auto r = backend.ecdsaVerifyDigest(signer, manifestSha256(backend, signedManifest),
                                       asBytes(signedManifest.signature()));
    if (!r) {
        if (r.error().code == Errc::Auth)
            return Error(Errc::Auth,
                         describeManifest(m) +
                             ": signature does not verify with the device key (the manifest "
                             "was altered, or signed by another key)");
        return std::move(r).error().context(describeManifest(m) + ": signature");
    }
    BWC_TRY(checkManifest(m));
    return m;
}

crypto::Digest manifestSha256(const crypto::Backend &backend,
                              const v1::SignedManifest &signedManifest)
{
    return backend.sha256(asBytes(signedManifest.manifest()));
}

std::string manifestFileName(uint64_t seq)
{
    char name[32];
    std::snprintf(name, sizeof(name), "%020" PRIu64 ".bwcm", seq);
    return name;
}

std::string manifestFilePath(const std::string &dir, uint64_t seq)
{
    return dir + "/" + manifestFileName(seq);
}

std::optional<uint64_t> manifestSeqFromFileName(std::string_view name)
{
    constexpr size_t kDigits = 20;
    if (name.size() != kDigits + kManifestFileSuffix.size() ||
        name.substr(kDigits) != kManifestFileSuffix)
        return std::nullopt;
    uint64_t seq = 0;
    for (size_t i = 0; i < kDigits; ++i) {
        char c = name[i];
        if (c < '0' || c > '9')
            return std::nullopt;
        uint64_t digit = uint64_t(c - '0');
        if (seq > (UINT64_MAX - digit) / 10)
            return std::nullopt;
        seq = seq * 10 + digit;
    }
    return seq;
}

Expected<std::string> writeManifestFile(const std::string &dir,
                                        const v1::SignedManifest &signedManifest)
{
    BWC_ASSIGN(m, parseManifest(signedManifest));
    std::string path = manifestFilePath(dir, m.seq());
    BWC_TRY(atomicReplace(path, serializeSignedManifest(signedManifest), 0640));
    return path;
}

Expected<v1::SignedManifest> readManifestFile(const std::string &path)
{
    BWC_ASSIGN(data, readFile(path, kMaxSignedManifestBytes));
    auto sm = parseSignedManifest(data);
    if (!sm)
        return std::move(sm).error().context(path);
    return sm;
}

} // namespace bwc::chain
