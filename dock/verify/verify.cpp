#include "dock/verify/verify.h"

#include <algorithm>
#include <fcntl.h>
#include <map>
#include <unistd.h>
#include <utility>

#include "common/base/clock.h"
#include "common/base/file.h"
#include "common/base/unique_fd.h"
#include "common/chain/chain_rules.h"
#include "common/chain/manifest.h"
#include "common/container/container.h"
#include "dock/verify/verify_internal.h"

namespace bwc::verify {

std::string toolVersion(const crypto::Backend &backend)
{
    return std::string("bwc ") + BWC_VERIFY_VERSION + " (" + backend.name() + ")";
}

namespace detail {

std::string stripPrefix(const std::string &name, std::string_view prefix)
{
    if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0)
        return name.substr(prefix.size());
    return name;
}

namespace {

// A minimal DER reader: enough to walk a CRL to its extensions.
struct Tlv {
    uint8_t tag = 0;
    ByteView value;
};

std::optional<Tlv> readTlv(ByteView &in)
{
    if (in.size() < 2)
        return std::nullopt;
    Tlv tlv;
    tlv.tag = in[0];
    size_t len = in[1];
    size_t at = 2;
    if (len & 0x80) {
        const size_t n = len & 0x7f;
        if (n == 0 || n > 4 || in.size() < 2 + n)
            return std::nullopt;
        len = 0;
        for (size_t i = 0; i < n; ++i)
            len = (len << 8) | in[2 + i];
        at += n;
    }
    if (in.size() - at < len)
        return std::nullopt;
    tlv.value = in.subspan(at, len);
    in = in.subspan(at + len);
    return tlv;
}

} // namespace

std::optional<uint64_t> crlNumber(ByteView crlDer)
{
    // CertificateList ::= SEQUENCE { tbsCertList SEQUENCE { ..., [0] crlExtensions }, ... }
    ByteView in = crlDer;
    auto outer = readTlv(in);
    if (!outer || outer->tag != 0x30)
        return std::nullopt;
    ByteView body = outer->value;
    auto tbs = readTlv(body);
    if (!tbs || tbs->tag != 0x30)
        return std::nullopt;
    ByteView fields = tbs->value;
    while (!fields.empty()) {
        auto field = readTlv(fields);
        if (!field)
            return std::nullopt;
        if (field->tag != 0xa0)
            continue;
        ByteView wrapper = field->value;
        auto exts = readTlv(wrapper);
        if (!exts || exts->tag != 0x30)
            return std::nullopt;
        ByteView list = exts->value;
        while (!list.empty()) {
            auto ext = readTlv(list);
            if (!ext || ext->tag != 0x30)
                return std::nullopt;
            ByteView parts = ext->value;
            auto oid = readTlv(parts);
            if (!oid || oid->tag != 0x06)
                return std::nullopt;
            static constexpr uint8_t kCrlNumberOid[] = {0x55, 0x1d, 0x14}; // 2.5.29.20
            if (!std::equal(oid->value.begin(), oid->value.end(), std::begin(kCrlNumberOid),
                            std::end(kCrlNumberOid)))
                continue;
            auto next = readTlv(parts);
            if (next && next->tag == 0x01) // critical flag
                next = readTlv(parts);
            if (!next || next->tag != 0x04)
                return std::nullopt;
            ByteView octets = next->value;
            auto integer = readTlv(octets);
            if (!integer || integer->tag != 0x02 || integer->value.empty() ||
                integer->value.size() > 9 || (integer->value[0] & 0x80))
                return std::nullopt;
            if (integer->value.size() == 9 && integer->value[0] != 0)
                return std::nullopt;
            uint64_t number = 0;
            for (uint8_t b : integer->value)
                number = (number << 8) | b;
            return number;
        }
        return std::nullopt;
    }
    return std::nullopt;
}

} // namespace detail

std::string_view statusName(Status status)
{
    switch (status) {
    case Status::Pass:
        return "PASS";
    case Status::Fail:
        return "FAIL";
    case Status::Skipped:
        return "SKIPPED";
    }
    return "UNKNOWN";
}

bool ClipReport::passed() const
{
    for (const Check &check : checks)
        if (check.status == Status::Fail)
            return false;
    for (std::string_view required :
         {"certificate", "signature", "header_sha256", "ciphertext_sha256"}) {
        auto it = std::find_if(checks.begin(), checks.end(),
                               [&](const Check &c) { return c.name == required; });
        if (it == checks.end() || it->status != Status::Pass)
            return false;
    }
    return true;
}

bool Report::passed() const
{
    if (clips.empty() && bundleChecks.empty())
        return false;
    for (const Check &check : bundleChecks)
        if (check.status == Status::Fail)
            return false;
    return std::all_of(clips.begin(), clips.end(), [](const ClipReport &c) { return c.passed(); });
}

namespace {

std::string hexOf(std::string_view bytes)
{
    return toHex(asBytes(bytes));
}

std::string hexOf(const crypto::Digest &digest)
{
    return toHex(digest);
}

Check pass(std::string name, std::string detail)
{
    return {std::move(name), Status::Pass, std::move(detail)};
}

Check fail(std::string name, std::string detail)
{
    return {std::move(name), Status::Fail, std::move(detail)};
}

Check skipped(std::string name, std::string detail)
{
    return {std::move(name), Status::Skipped, std::move(detail)};
}

// SHA-256 and length of a whole file, for when the structured read could not finish.
Expected<std::pair<crypto::Digest, uint64_t>> hashFile(const crypto::Backend &backend,
                                                       const std::string &path)
{
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.isValid())
        return Error(Errc::Io, path + ": cannot open: " + errnoText(errno));
    auto hash = backend.newSha256();
    Bytes buf(1 << 20);
    uint64_t total = 0;
    for (;;) {
        BWC_ASSIGN(got, readSome(fd.get(), buf, path));
        if (got == 0)
            break;
        hash->update(ByteView(buf.data(), got));
        total += got;
    }
    return std::make_pair(hash->finish(), total);
}

// The trust anchor the chain ends at: follow issuer names through the intermediates.
std::optional<crypto::CertInfo> findAnchor(const crypto::Backend &backend,
                                           const crypto::CertInfo &leaf,
                                           const std::vector<Bytes> &chainDer,
                                           const std::vector<Bytes> &anchorsDer)
{
    std::vector<crypto::CertInfo> anchors;
    for (const Bytes &der : anchorsDer)
        if (auto info = backend.parseCertificateDer(der))
            anchors.push_back(*info);
    std::vector<crypto::CertInfo> intermediates;
    for (size_t i = 1; i < chainDer.size(); ++i)
        if (auto info = backend.parseCertificateDer(chainDer[i]))
            intermediates.push_back(*info);

    std::string issuer = leaf.issuer;
    for (size_t depth = 0; depth <= intermediates.size(); ++depth) {
        for (const crypto::CertInfo &anchor : anchors)
            if (anchor.subject == issuer)
                return anchor;
        auto next = std::find_if(intermediates.begin(), intermediates.end(),
                                 [&](const crypto::CertInfo &c) {
                                     return c.subject == issuer && c.subject != c.issuer;
                                 });
        if (next == intermediates.end())
            break;
        issuer = next->issuer;
    }
    return std::nullopt;
}

struct CrlChoice {
    const Bytes *der = nullptr;
    crypto::CrlInfo info;
    std::optional<uint64_t> number;
};

// The freshest valid CRL of every issuer: a current one (thisUpdate <= now < nextUpdate)
// before one that is not, then the higher CRL number, then the later thisUpdate. CRLs
// that do not parse are kept so that the chain check reports them.
std::vector<CrlChoice> chooseCrls(const crypto::Backend &backend, const std::vector<Bytes> &crlsDer,
                                  int64_t nowUtcMs, std::vector<Bytes> &unparsed)
{
    auto current = [nowUtcMs](const crypto::CrlInfo &c) {
        return c.thisUpdateUtcMs <= nowUtcMs && nowUtcMs < c.nextUpdateUtcMs;
    };
    std::map<std::string, CrlChoice> best;
    for (const Bytes &der : crlsDer) {
        auto info = backend.parseCrlDer(der);
        if (!info) {
            unparsed.push_back(der);
            continue;
        }
        CrlChoice candidate{&der, *info, detail::crlNumber(der)};
        auto it = best.find(info->issuer);
        if (it == best.end()) {
            best.emplace(info->issuer, std::move(candidate));
            continue;
        }
        const CrlChoice &held = it->second;
        bool better = false;
        if (current(candidate.info) != current(held.info))
            better = current(candidate.info);
        else if (candidate.number && held.number && *candidate.number != *held.number)
            better = *candidate.number > *held.number;
        else
            better = candidate.info.thisUpdateUtcMs > held.info.thisUpdateUtcMs;
        if (better)
            it->second = std::move(candidate);
    }
    std::vector<CrlChoice> out;
    for (auto &[issuer, choice] : best)
        out.push_back(std::move(choice));
    return out;
}

// Describes the CRL the chain check relies on for the leaf.
std::string describeLeafCrl(const crypto::CertInfo &leaf, const std::vector<CrlChoice> &crls)
{
    for (const CrlChoice &c : crls) {
        if (c.info.issuer != leaf.issuer)
            continue;
        std::string text = "CRL";
        if (c.number)
            text += " #" + std::to_string(*c.number);
        return text + " from " + c.info.issuer + ", issued " + formatUtcMs(c.info.thisUpdateUtcMs) +
               ", next update " + formatUtcMs(c.info.nextUpdateUtcMs);
    }
    return "CRL from " + leaf.issuer;
}

bool containsWord(const std::string &text, std::string_view word)
{
    return text.find(word) != std::string::npos;
}

void fillFromManifest(ClipReport &report, const v1::SignedManifest &signedManifest,
                      const v1::Manifest &m, const crypto::Backend &backend)
{
    report.deviceId = m.device_id();
    report.seq = m.seq();
    report.kind = detail::stripPrefix(v1::ManifestKind_Name(m.kind()), "MANIFEST_KIND_");
    report.officerId = m.officer_id();
    report.startUtcMs = m.start_utc_ms();
    report.endUtcMs = m.end_utc_ms();
    report.signedUtcMs = m.signed_utc_ms();
    report.prerecordMs = m.prerecord_ms();
    report.trigger = detail::stripPrefix(v1::Trigger_Name(m.trigger()), "TRIGGER_");
    report.clockSource = detail::stripPrefix(v1::ClockSource_Name(m.clock_source()),
                                             "CLOCK_SOURCE_");
    report.clockErrorMs = m.clock_error_ms();
    report.fwVersion = m.fw_version();
    if (m.clip_uuid().size() == 16) {
        container::ClipUuid uuid{};
        std::copy(m.clip_uuid().begin(), m.clip_uuid().end(), uuid.begin());
        report.clipUuid = container::uuidToString(uuid);
    }
    report.headerSha256 = hexOf(m.header_sha256());
    report.ciphertextSha256 = hexOf(m.ciphertext_sha256());
    report.ciphertextBytes = m.ciphertext_bytes();
    report.plaintextSha256 = hexOf(m.plaintext_sha256());
    report.manifestSha256 = hexOf(chain::manifestSha256(backend, signedManifest));
    for (const auto &s : m.streams())
        report.streamChunks.emplace_back(s.stream_id(), s.chunks());
}

struct CertOutcome {
    Check check;
    std::optional<crypto::P256Point> signerKey;
};

CertOutcome checkCertificate(const crypto::Backend &backend, const ClipInputs &in,
                             const std::optional<v1::Manifest> &manifest, int64_t nowUtcMs,
                             const std::optional<std::string> &certLoadError, ClipReport &report)
{
    CertOutcome out;
    const std::string name = "certificate";
    if (in.deviceCertChainDer.empty()) {
        std::string why = certLoadError ? *certLoadError : "no device certificate chain given";
        report.revocationStatus = "unknown: no device certificate";
        out.check = fail(name, why + "; supply the device's certificate chain (PEM, leaf first)");
        return out;
    }
    auto leaf = backend.parseCertificateDer(in.deviceCertChainDer.front());
    if (!leaf) {
        report.revocationStatus = "unknown: the device certificate is unreadable";
        out.check = fail(name, "device certificate unreadable: " + leaf.error().message);
        return out;
    }
    report.deviceCert = *leaf;
    out.signerKey = leaf->publicKey;
    if (auto anchor = findAnchor(backend, *leaf, in.deviceCertChainDer, in.trustAnchorsDer))
        report.caCert = *anchor;

    crypto::ChainRequest request;
    request.leafDer = in.deviceCertChainDer.front();
    request.intermediatesDer.assign(in.deviceCertChainDer.begin() + 1, in.deviceCertChainDer.end());
    request.trustAnchorsDer = in.trustAnchorsDer;
    std::vector<Bytes> unparsed;
    const std::vector<CrlChoice> crls = chooseCrls(backend, in.crlsDer, nowUtcMs, unparsed);
    for (const CrlChoice &c : crls)
        request.crlsDer.push_back(*c.der);
    request.crlsDer.insert(request.crlsDer.end(), unparsed.begin(), unparsed.end());
    request.validityTimeUtcMs = manifest ? manifest->signed_utc_ms() : nowUtcMs;
    request.nowUtcMs = nowUtcMs;
    const std::string when = manifest ? "at the manifest's signing time " +
                                            formatUtcMs(request.validityTimeUtcMs)
                                      : "now (" + formatUtcMs(nowUtcMs) +
                                            "; the manifest did not parse)";

    auto verified = backend.verifyCertChain(request);
    if (!verified) {
        const std::string &message = verified.error().message;
        if (containsWord(message, "revoked"))
            report.revocationStatus = "REVOKED: " + message;
        else
            report.revocationStatus = "not established: " + message;
        out.check = fail(name, "device certificate " + leaf->subject + " (serial " +
                                   leaf->serialHex + ") does not verify " + when + ": " + message);
        return out;
    }
    report.revocationStatus =
        "not revoked (" + describeLeafCrl(*leaf, crls) + ")";
    if (manifest && leaf->subjectCommonName != manifest->device_id()) {
        out.check = fail(name, "certificate is for device " +
                                   chain::printableForMessage(leaf->subjectCommonName) +
                                   " but the manifest names device " +
                                   chain::printableForMessage(manifest->device_id()) +
                                   "; a device may only sign its own manifests");
        return out;
    }
    std::string anchorText = report.caCert.subject.empty()
                                 ? std::string("the agency CA")
                                 : report.caCert.subject + " (SHA-256 " +
                                       hexOf(report.caCert.certSha256) + ")";
    out.check = pass(name, "device certificate " + leaf->subject + " (serial " + leaf->serialHex +
                               ") chains to " + anchorText + ", valid " + when + ", " +
                               report.revocationStatus);
    return out;
}

Check checkSignature(const crypto::Backend &backend,
                     const std::optional<v1::SignedManifest> &signedManifest,
                     const std::string &manifestError,
                     const std::optional<crypto::P256Point> &signerKey, const ClipReport &report)
{
    const std::string name = "signature";
    if (!signedManifest)
        return fail(name, manifestError);
    if (!signerKey)
        return fail(name, "not checked: there is no readable device certificate to take the "
                          "public key from");
    auto verified = chain::verifySignedManifest(backend, *signerKey, *signedManifest);
    if (!verified) {
        if (verified.error().code == Errc::Auth)
            return fail(name, "the manifest signature does not verify with the key of " +
                                  report.deviceCert.subject +
                                  ": the manifest was altered or signed by another key");
        return fail(name, verified.error().message);
    }
    return pass(name, "ECDSA P-256 signature over the exact manifest bytes (SHA-256 " +
                          report.manifestSha256 + ") verifies with the key of " +
                          report.deviceCert.subject);
}

Check checkChain(const crypto::Backend &backend, const ClipInputs &in,
                 const std::optional<v1::SignedManifest> &signedManifest,
                 const std::optional<v1::Manifest> &manifest,
                 const std::optional<crypto::P256Point> &signerKey)
{
    const std::string name = "chain";
    if (in.precedingManifests.empty() && manifest && signedManifest && manifest->seq() == 1) {
        // The device's first manifest: nothing precedes it, and it must start the chain.
        std::vector<std::pair<v1::Manifest, crypto::Digest>> first;
        first.emplace_back(*manifest, chain::manifestSha256(backend, *signedManifest));
        if (auto linked = chain::verifyChainSegment(first); !linked)
            return fail(name, linked.error().message);
        return pass(name, "seq 1, the device's first manifest: it starts the chain from the "
                          "zero hash");
    }
    if (in.precedingManifests.empty())
        return skipped(name,
                       "no preceding manifests supplied; chain linkage checked by the dock at offload");
    if (!signedManifest || !manifest)
        return fail(name, "not checked: this clip's manifest is unreadable");
    std::vector<std::string> problems;
    std::vector<std::pair<v1::Manifest, crypto::Digest>> run;
    for (size_t i = 0; i < in.precedingManifests.size(); ++i) {
        const v1::SignedManifest &sm = in.precedingManifests[i];
        auto parsed = chain::parseManifest(sm);
        if (!parsed) {
            problems.push_back("preceding manifest " + std::to_string(i + 1) + ": " +
                               parsed.error().message);
            continue;
        }
        if (!signerKey) {
            problems.push_back(chain::describeManifest(*parsed) +
                               ": signature not checked (no readable device certificate)");
        } else if (auto ok = chain::verifySignedManifest(backend, *signerKey, sm); !ok) {
            problems.push_back(chain::describeManifest(*parsed) +
                               ": signature does not verify with the device certificate's key "
                               "(" + ok.error().message + ")");
        }
        run.emplace_back(std::move(*parsed), chain::manifestSha256(backend, sm));
    }
    run.emplace_back(*manifest, chain::manifestSha256(backend, *signedManifest));
    if (auto linked = chain::verifyChainSegment(run); !linked)
        problems.push_back(linked.error().message);
    if (!problems.empty()) {
        std::string detail;
        for (const std::string &p : problems)
            detail += (detail.empty() ? "" : "; ") + p;
        return fail(name, detail + " (a manifest was removed, replaced or reordered)");
    }
    return pass(name, "seq " + std::to_string(run.front().first.seq()) + " to " +
                          std::to_string(manifest->seq()) +
                          " contiguous and linked by prev_manifest_sha256; " +
                          std::to_string(in.precedingManifests.size()) +
                          " preceding manifest(s) signed by the device");
}

struct ContainerChecks {
    Check header, ciphertext, decrypt, plaintext;
};

// What one pass over the clip's bytes found, whether read from its file or as the bytes
// arrived (ClipInputs::streamed): the checks below judge both the same way.
struct ContainerPass {
    std::optional<std::string> openError; // the header is unusable
    v1::ClipHeader header;
    crypto::Digest headerSha256{};
    container::ClipUuid uuid{};
    std::optional<Error> unlockError; // the evidence key did not open the clip
    std::optional<std::string> decryptError;
    std::optional<container::ReadResult> result; // decrypted when that worked
    std::string readError;
    std::optional<std::pair<crypto::Digest, uint64_t>> fileHash; // and length
};

ContainerPass passFromFile(const crypto::Backend &backend, const ClipInputs &in,
                           const std::optional<v1::Manifest> &manifest)
{
    ContainerPass found;
    auto reader = container::ClipReader::open(backend, in.clipPath);
    if (!reader) {
        found.openError = reader.error().message;
    } else {
        found.header = (*reader)->header();
        found.headerSha256 = (*reader)->headerSha256();
        found.uuid = (*reader)->clipUuid();
        // One found over the file: decrypting when the key opens the clip, otherwise only
        // structure and hashes. A decryption failure stops the reader before its hashes,
        // so the file is then read again without decrypting.
        bool unlocked = false;
        if (in.evidenceKey) {
            if (auto unlock = (*reader)->unlock(*in.evidenceKey); !unlock)
                found.unlockError = std::move(unlock).error();
            else
                unlocked = true;
        }
        container::ReadOptions options;
        options.progress = in.progress;
        if (unlocked) {
            options.decrypt = true;
            if (manifest && manifest->kind() == v1::MANIFEST_KIND_INTERRUPTED) {
                std::map<uint8_t, uint64_t> counts;
                for (const auto &s : manifest->streams())
                    counts[uint8_t(s.stream_id())] = s.chunks();
                options.interruptedCounts = counts;
            }
            auto decrypted = (*reader)->read(options);
            if (decrypted) {
                found.result = std::move(*decrypted);
            } else {
                found.decryptError = decrypted.error().message;
                options.decrypt = false;
                options.interruptedCounts.reset();
            }
        }
        if (!found.result) {
            auto scanned = (*reader)->read(options);
            if (scanned)
                found.result = std::move(*scanned);
            else
                found.readError = scanned.error().message;
        }
    }
    if (found.result) {
        found.fileHash = std::make_pair(found.result->ciphertextSha256, found.result->fileBytes);
    } else if (auto hashed = hashFile(backend, in.clipPath)) {
        found.fileHash = *hashed;
    } else if (found.readError.empty()) {
        found.readError = hashed.error().message;
    }
    return found;
}

ContainerPass passFromStream(const container::StreamedClip &streamed)
{
    ContainerPass found;
    found.fileHash = std::make_pair(streamed.fileSha256, streamed.fileBytes);
    if (streamed.headerError) {
        found.openError = streamed.headerError->message;
        return found;
    }
    found.header = streamed.header;
    found.headerSha256 = streamed.headerSha256;
    found.uuid = streamed.clipUuid;
    found.unlockError = streamed.unlockError;
    if (streamed.decrypted) {
        found.result = streamed.decrypted;
        return found;
    }
    if (streamed.decryptError)
        found.decryptError = streamed.decryptError->message;
    if (streamed.scanned)
        found.result = streamed.scanned;
    else if (streamed.scanError)
        found.readError = streamed.scanError->message;
    return found;
}

void checkContainer(const crypto::Backend &backend, const ClipInputs &in,
                    const std::optional<v1::Manifest> &manifest, ClipReport &report,
                    ContainerChecks &out)
{
    const bool haveKey = in.evidenceKey.has_value();
    out.decrypt = skipped("decrypt", "no agency evidence key given (--key); chunks not decrypted");
    out.plaintext = skipped("plaintext_sha256", "no agency evidence key given (--key); the media "
                                                "plaintext hash was not recomputed");

    const ContainerPass scan =
        in.streamed ? passFromStream(*in.streamed) : passFromFile(backend, in, manifest);
    if (scan.openError) {
        out.header = fail("header_sha256", "clip file " + in.clipPath +
                                               " could not be opened: " + *scan.openError);
        if (haveKey) {
            out.decrypt = fail("decrypt", "not possible: the clip file could not be opened");
            out.plaintext = fail("plaintext_sha256", "not possible: the clip was not decrypted");
        }
    } else {
        // Header hash, and the clip identity the header names.
        std::vector<std::string> problems;
        const std::string computed = hexOf(scan.headerSha256);
        const std::string uuidText = container::uuidToString(scan.uuid);
        if (report.clipUuid.empty())
            report.clipUuid = uuidText;
        if (!manifest) {
            problems.push_back("the manifest is unreadable, nothing to compare the header hash " +
                               computed + " with");
        } else {
            if (!chain::digestEquals(manifest->header_sha256(), scan.headerSha256))
                problems.push_back("the clip header hashes to " + computed +
                                   " but the manifest says " + hexOf(manifest->header_sha256()));
            if (manifest->clip_uuid() !=
                std::string(asChars(ByteView(scan.uuid.data(), scan.uuid.size()))))
                problems.push_back("the clip header names clip " + uuidText +
                                   " but the manifest names clip " + report.clipUuid);
            if (scan.header.device_id() != manifest->device_id())
                problems.push_back("the clip header names device " +
                                   chain::printableForMessage(scan.header.device_id()) +
                                   " but the manifest names device " +
                                   chain::printableForMessage(manifest->device_id()));
        }
        if (problems.empty()) {
            out.header = pass("header_sha256", "clip header SHA-256 " + computed +
                                                   " matches the manifest; it names clip " +
                                                   uuidText + " of device " +
                                                   chain::printableForMessage(
                                                       scan.header.device_id()));
        } else {
            std::string detail;
            for (const std::string &p : problems)
                detail += (detail.empty() ? "" : "; ") + p;
            out.header = fail("header_sha256", detail);
        }
    }
    if (scan.unlockError) {
        const std::string keyId = toHex(crypto::p256KeyId(backend, in.evidenceKey->pub));
        if (scan.unlockError->code == Errc::NotFound)
            out.decrypt = fail("decrypt", "the agency evidence key given (key id " + keyId +
                                              ") has no recipient entry in this clip: " +
                                              scan.unlockError->message +
                                              "; use the agency evidence key the camera "
                                              "was provisioned with");
        else
            out.decrypt = fail("decrypt", "the data key does not unwrap with the agency "
                                          "evidence key (key id " +
                                              keyId + "): " + scan.unlockError->message);
        out.plaintext = fail("plaintext_sha256", "not possible: the clip was not decrypted");
    }
    if (scan.decryptError) {
        out.decrypt = fail("decrypt", *scan.decryptError);
        out.plaintext = fail("plaintext_sha256",
                             "not possible: the clip did not decrypt completely");
    }
    const std::optional<container::ReadResult> &result = scan.result;
    const std::string &readError = scan.readError;

    // Ciphertext hash and length.
    const bool haveHash = scan.fileHash.has_value();
    const crypto::Digest fileHash = haveHash ? scan.fileHash->first : crypto::Digest{};
    const uint64_t fileBytes = haveHash ? scan.fileHash->second : 0;
    if (!manifest)
        report.ciphertextBytes = fileBytes;
    if (!haveHash) {
        out.ciphertext = fail("ciphertext_sha256", "the clip file could not be read: " + readError);
    } else if (!manifest) {
        report.ciphertextSha256 = hexOf(fileHash);
        out.ciphertext = fail("ciphertext_sha256", "the clip file hashes to " + hexOf(fileHash) +
                                                       " (" + std::to_string(fileBytes) +
                                                       " bytes) but the manifest is unreadable");
    } else if (!chain::digestEquals(manifest->ciphertext_sha256(), fileHash) ||
               fileBytes != manifest->ciphertext_bytes()) {
        std::string detail = "the clip file hashes to " + hexOf(fileHash) + " (" +
                             std::to_string(fileBytes) + " bytes) but the manifest says " +
                             hexOf(manifest->ciphertext_sha256()) + " (" +
                             std::to_string(manifest->ciphertext_bytes()) +
                             " bytes): the file was altered or truncated, or is not this "
                             "manifest's clip";
        if (!readError.empty())
            detail += "; reading it failed: " + readError;
        out.ciphertext = fail("ciphertext_sha256", detail);
    } else if (!readError.empty()) {
        out.ciphertext = fail("ciphertext_sha256", "the file hash matches the manifest, but its "
                                                   "records are malformed: " +
                                                       readError);
    } else {
        out.ciphertext = pass("ciphertext_sha256", "SHA-256 of the whole clip file (" +
                                                       std::to_string(fileBytes) + " bytes) " +
                                                       hexOf(fileHash) + " matches the manifest");
    }

    if (!result || !result->decrypted)
        return;
    // Decrypted: every chunk authenticated, ordering and final flags held. Now the counts.
    std::vector<std::string> problems;
    std::map<uint32_t, uint64_t> expected;
    if (manifest)
        for (const auto &s : manifest->streams())
            expected[s.stream_id()] = s.chunks();
    std::map<uint32_t, uint64_t> found;
    for (const auto &[id, totals] : result->streams)
        found[id] = totals.chunks;
    for (const auto &[id, chunks] : expected) {
        auto it = found.find(id);
        uint64_t have = it == found.end() ? 0 : it->second;
        if (have != chunks)
            problems.push_back("stream " + std::to_string(id) + " has " + std::to_string(have) +
                               " chunk(s) but the manifest says " + std::to_string(chunks));
    }
    for (const auto &[id, chunks] : found)
        if (!expected.count(id) && chunks > 0)
            problems.push_back("stream " + std::to_string(id) + " has " + std::to_string(chunks) +
                               " chunk(s) the manifest does not count");
    if (!manifest)
        problems.push_back("the manifest is unreadable, nothing to compare the chunk counts with");
    std::string counts;
    for (const auto &[id, chunks] : found)
        counts += (counts.empty() ? "" : ", ") + std::string("stream ") + std::to_string(id) +
                  ": " + std::to_string(chunks);
    if (problems.empty()) {
        out.decrypt = pass("decrypt", "every chunk authenticated and decrypted in order (" +
                                          counts + " chunks)" +
                                          (manifest && manifest->kind() ==
                                                   v1::MANIFEST_KIND_INTERRUPTED
                                               ? "; interrupted clip ends exactly at the counts "
                                                 "the manifest names"
                                               : "; every stream ends with its final chunk"));
    } else {
        std::string detail;
        for (const std::string &p : problems)
            detail += (detail.empty() ? "" : "; ") + p;
        out.decrypt = fail("decrypt", detail);
    }

    const std::string plain = hexOf(result->mediaPlaintextSha256);
    if (!manifest)
        out.plaintext = fail("plaintext_sha256", "the media plaintext hashes to " + plain +
                                                     " but the manifest is unreadable");
    else if (!chain::digestEquals(manifest->plaintext_sha256(), result->mediaPlaintextSha256))
        out.plaintext = fail("plaintext_sha256", "the media plaintext hashes to " + plain +
                                                     " but the manifest says " +
                                                     hexOf(manifest->plaintext_sha256()));
    else
        out.plaintext =
            pass("plaintext_sha256", "SHA-256 of the media plaintext " + plain +
                                         " matches the manifest");
}

} // namespace

ClipReport detail::verifyClipWith(const crypto::Backend &backend, const ClipInputs &in,
                                  const std::optional<std::string> &certLoadError)
{
    ClipReport report;
    report.clipPath = in.clipPath;
    const int64_t now = in.nowUtcMs != 0 ? in.nowUtcMs : utcNowMs();

    std::optional<v1::SignedManifest> signedManifest;
    std::optional<v1::Manifest> manifest;
    std::string manifestError;
    if (auto loaded = chain::readManifestFile(in.manifestPath); !loaded) {
        manifestError = "manifest " + in.manifestPath + " unreadable: " + loaded.error().message;
    } else {
        signedManifest = std::move(*loaded);
        if (auto parsed = chain::parseManifest(*signedManifest); !parsed) {
            manifestError = "manifest " + in.manifestPath + " is malformed: " +
                            parsed.error().message;
        } else if (parsed->kind() != v1::MANIFEST_KIND_CLIP &&
                   parsed->kind() != v1::MANIFEST_KIND_INTERRUPTED) {
            manifestError = "manifest " + in.manifestPath + " is " +
                            chain::describeManifest(*parsed) + " of kind " +
                            v1::ManifestKind_Name(parsed->kind()) + ", not a clip's manifest";
            fillFromManifest(report, *signedManifest, *parsed, backend);
        } else {
            manifest = std::move(*parsed);
            fillFromManifest(report, *signedManifest, *manifest, backend);
        }
    }

    CertOutcome cert = checkCertificate(backend, in, manifest, now, certLoadError, report);
    report.checks.push_back(cert.check);
    // A manifest that is not a clip's fails the signature check's place with its reason.
    if (signedManifest && !manifest)
        report.checks.push_back(fail("signature", manifestError));
    else
        report.checks.push_back(
            checkSignature(backend, signedManifest, manifestError, cert.signerKey, report));
    report.checks.push_back(checkChain(backend, in, signedManifest, manifest, cert.signerKey));

    ContainerChecks container;
    checkContainer(backend, in, manifest, report, container);
    report.checks.push_back(std::move(container.header));
    report.checks.push_back(std::move(container.ciphertext));
    report.checks.push_back(std::move(container.decrypt));
    report.checks.push_back(std::move(container.plaintext));
    return report;
}

ClipReport verifyClip(const crypto::Backend &backend, const ClipInputs &inputs)
{
    return detail::verifyClipWith(backend, inputs, std::nullopt);
}

} // namespace bwc::verify
