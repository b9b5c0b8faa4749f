// Export bundles: writing one (atomically, as a directory renamed into place) and
// verifying one offline against the examiner's own agency CA.

#include "dock/verify/verify.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <set>
#include <unistd.h>

#include "common/base/clock.h"
#include "common/base/file.h"
#include "common/base/unique_fd.h"
#include "common/chain/chain_rules.h"
#include "common/chain/clip_session.h"
#include "common/chain/manifest.h"
#include "common/container/container.h"
#include "common/crypto/pem.h"
#include "dock/verify/verify_internal.h"

namespace bwc::verify {

namespace {

constexpr uint32_t kBundleFormatVersion = 1;
constexpr std::string_view kIndexName = "bundle.bwcb";
constexpr uint64_t kMaxIndexBytes = 64u << 20;

// A file name made only of characters safe everywhere.
std::string safeFileName(const std::string &name)
{
    std::string out;
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
        out += ok ? c : '_';
    }
    if (out.empty() || out[0] == '.')
        out.insert(out.begin(), '_');
    return out;
}

// Writes a new file and makes its content durable.
Expected<void> writeDurable(const std::string &path, ByteView data)
{
    BWC_ASSIGN(file, createFile(path));
    BWC_TRY(file->append(data));
    return file->sync();
}

Expected<void> copyDurable(const std::string &from, const std::string &to)
{
    UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in.isValid())
        return Error(Errc::Io, from + ": cannot open for reading: " + errnoText(errno));
    BWC_ASSIGN(out, createFile(to));
    Bytes buf(1 << 20);
    for (;;) {
        BWC_ASSIGN(got, readSome(in.get(), buf, from));
        if (got == 0)
            break;
        BWC_TRY(out->append(ByteView(buf.data(), got)));
    }
    return out->sync();
}

std::string pemChain(const std::vector<Bytes> &chainDer)
{
    std::string text;
    for (const Bytes &der : chainDer)
        text += crypto::toPem("CERTIFICATE", der);
    return text;
}

// Removes a temporary bundle directory unless it was renamed into place.
class TempDirGuard {
public:
    explicit TempDirGuard(std::string path) : path_(std::move(path)) {}
    ~TempDirGuard()
    {
        if (!path_.empty()) {
            std::error_code ec;
            std::filesystem::remove_all(path_, ec);
        }
    }
    TempDirGuard(const TempDirGuard &) = delete;
    TempDirGuard &operator=(const TempDirGuard &) = delete;
    void release() { path_.clear(); }

private:
    std::string path_;
};

Expected<void> writeBundleInto(const std::string &dir, const BundleSource &source)
{
    BWC_TRY(makeDirectories(dir + "/clips"));
    BWC_TRY(makeDirectories(dir + "/manifests"));
    BWC_TRY(makeDirectories(dir + "/certs"));

    v1::BundleIndex index;
    index.set_format_version(kBundleFormatVersion);
    index.set_device_id(source.deviceId);
    index.set_exported_utc_ms(source.exportedUtcMs);
    index.set_exported_by(source.exportedBy);
    index.set_reason(source.reason);
    index.set_tool_version(source.toolVersion);

    std::map<uint64_t, std::string> segmentBytes;
    for (size_t i = 0; i < source.chainSegment.size(); ++i) {
        const v1::SignedManifest &sm = source.chainSegment[i];
        auto parsed = chain::parseManifest(sm);
        if (!parsed)
            return std::move(parsed).error().context("chain segment manifest " +
                                                     std::to_string(i + 1) + ": ");
        if (parsed->device_id() != source.deviceId)
            return Error(Errc::Chain, chain::describeManifest(*parsed) +
                                          " is not of the exported device " +
                                          chain::printableForMessage(source.deviceId));
        if (i > 0 && parsed->seq() != index.last_seq() + 1)
            return Error(Errc::Chain, "the chain segment must hold every manifest in seq order: " +
                                          chain::describeManifest(*parsed) + " follows seq " +
                                          std::to_string(index.last_seq()));
        if (i == 0)
            index.set_first_seq(parsed->seq());
        index.set_last_seq(parsed->seq());
        const std::string rel = "manifests/" + chain::manifestFileName(parsed->seq());
        BWC_TRY(writeDurable(dir + "/" + rel, chain::serializeSignedManifest(sm)));
        index.add_manifest_paths(rel);
        segmentBytes[parsed->seq()] = sm.manifest();
    }

    std::vector<std::vector<Bytes>> chainsWritten;
    std::vector<std::string> chainPaths;
    for (const BundleClipSource &clip : source.clips) {
        auto parsed = chain::parseManifest(clip.manifest);
        if (!parsed)
            return std::move(parsed).error().context("clip " + clip.clipPath);
        auto inSegment = segmentBytes.find(parsed->seq());
        if (inSegment == segmentBytes.end() || inSegment->second != clip.manifest.manifest())
            return Error(Errc::Chain, "clip " + clip.clipPath + ": its " +
                                          chain::describeManifest(*parsed) +
                                          " is not in the exported chain segment; export the "
                                          "segment that covers it");
        if (parsed->clip_uuid().size() != container::ClipUuid().size())
            return Error(Errc::Format, "clip " + clip.clipPath + ": " +
                                           chain::describeManifest(*parsed) +
                                           " is not a clip's manifest");
        container::ClipUuid uuid{};
        std::copy(parsed->clip_uuid().begin(), parsed->clip_uuid().end(), uuid.begin());
        const std::string uuidText = container::uuidToString(uuid);

        v1::BundleClip *entry = index.add_clips();
        entry->set_seq(parsed->seq());
        entry->set_clip_uuid(parsed->clip_uuid());
        entry->set_clip_path("clips/" + uuidText + std::string(chain::kClipFileSuffix));
        BWC_TRY(copyDurable(clip.clipPath, dir + "/" + entry->clip_path()));
        entry->set_manifest_path("manifests/" + chain::manifestFileName(parsed->seq()));
        if (!clip.plaintextPath.empty()) {
            entry->set_plaintext_path("clips/" + uuidText + ".mp4");
            BWC_TRY(copyDurable(clip.plaintextPath, dir + "/" + entry->plaintext_path()));
        }

        if (clip.deviceCertChainDer.empty())
            return Error(Errc::NotFound, "clip " + clip.clipPath +
                                             ": no device certificate chain to export with it");
        std::string certPath;
        for (size_t i = 0; i < chainsWritten.size(); ++i)
            if (chainsWritten[i] == clip.deviceCertChainDer)
                certPath = chainPaths[i];
        if (certPath.empty()) {
            const std::string base = safeFileName(source.deviceId);
            certPath = "certs/" + base +
                       (chainsWritten.empty() ? "" : "-" + std::to_string(chainsWritten.size() + 1)) +
                       ".pem";
            BWC_TRY(writeDurable(dir + "/" + certPath, asBytes(pemChain(clip.deviceCertChainDer))));
            chainsWritten.push_back(clip.deviceCertChainDer);
            chainPaths.push_back(certPath);
        }
        entry->set_device_cert_path(certPath);
    }

    if (source.caCertDer.empty())
        return Error(Errc::NotFound, "no agency CA certificate to export with the bundle");
    index.set_ca_cert_path("certs/ca.pem");
    BWC_TRY(writeDurable(dir + "/" + index.ca_cert_path(),
                         asBytes(crypto::toPem("CERTIFICATE", source.caCertDer))));
    if (!source.crlDer.empty()) {
        index.set_crl_path("crl.pem");
        BWC_TRY(writeDurable(dir + "/" + index.crl_path(),
                             asBytes(crypto::toPem("X509 CRL", source.crlDer))));
    }

    std::string serialized;
    if (!index.SerializeToString(&serialized))
        return Error(Errc::Internal, "bundle index could not be serialized");
    BWC_TRY(writeDurable(dir + "/" + std::string(kIndexName), asBytes(serialized)));
    BWC_TRY(fsyncDirectory(dir + "/clips"));
    BWC_TRY(fsyncDirectory(dir + "/manifests"));
    BWC_TRY(fsyncDirectory(dir + "/certs"));
    return fsyncDirectory(dir);
}

} // namespace

Expected<void> writeBundle(const std::string &outDir, const BundleSource &source)
{
    std::string target = outDir;
    while (target.size() > 1 && target.back() == '/')
        target.pop_back();
    if (target.empty())
        return Error(Errc::Usage, "no output directory given for the bundle");
    std::error_code ec;
    if (std::filesystem::exists(target, ec) && !std::filesystem::is_empty(target, ec))
        return Error(Errc::Exists, target + " exists and is not empty; choose a new directory "
                                            "for the bundle");
    if (source.chainSegment.empty())
        return Error(Errc::Usage, "a bundle needs the chain segment covering its clips");

    std::string parent = parentDirectory(target);
    BWC_TRY(makeDirectories(parent));
    std::string pattern = target + ".tmp-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr)
        return Error(Errc::Io, "cannot create a temporary directory beside " + target + ": " +
                                   errnoText(errno));
    const std::string temp = buf.data();
    TempDirGuard guard(temp);
    if (auto written = writeBundleInto(temp, source); !written)
        return std::move(written).error().context("bundle " + target);
    // Renaming onto an empty directory replaces it.
    if (::rename(temp.c_str(), target.c_str()) != 0)
        return Error(errno == ENOTEMPTY || errno == EEXIST ? Errc::Exists : Errc::Io,
                     "cannot move the bundle into place at " + target + ": " + errnoText(errno));
    guard.release();
    return fsyncDirectory(parent);
}

namespace {

// Text from the bundle for one report line: control characters become '?', UTF-8 text
// passes through.
std::string lineSafe(const std::string &text, const char *ifEmpty)
{
    if (text.empty())
        return ifEmpty;
    std::string out = text;
    for (char &c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            c = '?';
    return out;
}

// A relative path inside the bundle that cannot leave it.
bool safeRelativePath(const std::string &path)
{
    if (path.empty() || path.front() == '/')
        return false;
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string::npos)
            end = path.size();
        std::string_view part(path.data() + start, end - start);
        if (part.empty() || part == "." || part == "..")
            return false;
        start = end + 1;
    }
    return true;
}

std::string joinDetail(const std::vector<std::string> &parts)
{
    std::string out;
    for (const std::string &p : parts)
        out += (out.empty() ? "" : "; ") + p;
    return out;
}

} // namespace

Report verifyBundle(const crypto::Backend &backend, const BundleInputs &in)
{
    Report report;
    report.toolVersion = toolVersion(backend);
    const int64_t now = in.nowUtcMs != 0 ? in.nowUtcMs : utcNowMs();
    report.createdUtcMs = now;
    report.subject = in.bundleDir;
    const std::string root = in.bundleDir;
    auto at = [&](const std::string &rel) { return root + "/" + rel; };

    // The index.
    std::vector<std::string> indexProblems;
    v1::BundleIndex index;
    {
        const std::string indexPath = at(std::string(kIndexName));
        auto data = readFile(indexPath, kMaxIndexBytes);
        if (!data) {
            report.bundleChecks.push_back(
                {"index", Status::Fail,
                 std::string(kIndexName) + " could not be read (" + data.error().message +
                     "): " + root + " is not an export bundle, or it is incomplete"});
            return report;
        }
        if (!index.ParseFromArray(data->data(), int(data->size()))) {
            report.bundleChecks.push_back(
                {"index", Status::Fail,
                 std::string(kIndexName) +
                     " is corrupt (not a BundleIndex message); the bundle was damaged"});
            return report;
        }
    }
    if (index.format_version() != kBundleFormatVersion)
        indexProblems.push_back("format_version is " + std::to_string(index.format_version()) +
                                ", this tool reads version " +
                                std::to_string(kBundleFormatVersion));
    if (index.first_seq() == 0 || index.last_seq() < index.first_seq())
        indexProblems.push_back("the seq range " + std::to_string(index.first_seq()) + ".." +
                                std::to_string(index.last_seq()) + " is invalid");
    auto checkPath = [&](const std::string &what, const std::string &rel) {
        if (!safeRelativePath(rel)) {
            indexProblems.push_back(what + " path '" + chain::printableForMessage(rel) +
                                    "' is not a relative path inside the bundle");
            return false;
        }
        if (!pathExists(at(rel))) {
            indexProblems.push_back(what + " " + rel + " is missing from the bundle");
            return false;
        }
        return true;
    };

    report.custody.push_back("exported " + formatUtcMs(index.exported_utc_ms()) + " by " +
                             lineSafe(index.exported_by(), "(not recorded)") +
                             ", reason: " + lineSafe(index.reason(), "(not recorded)") +
                             ", tool: " + lineSafe(index.tool_version(), "(not recorded)"));

    // The bundle's CA certificate, compared with the examiner's.
    Check caCheck{"ca_certificate", Status::Fail, ""};
    {
        std::vector<Bytes> bundleCa;
        std::string caError;
        if (checkPath("CA certificate", index.ca_cert_path())) {
            if (auto certs = crypto::readPemFile(at(index.ca_cert_path()), "CERTIFICATE"))
                bundleCa = std::move(*certs);
            else
                caError = certs.error().message;
        } else {
            caError = "the bundle has no readable CA certificate (" +
                      (index.ca_cert_path().empty() ? std::string("none named")
                                                    : index.ca_cert_path()) +
                      ")";
        }
        std::set<std::string> supplied;
        for (const Bytes &der : in.trustAnchorsDer)
            supplied.insert(toHex(backend.sha256(der)));
        if (in.trustAnchorsDer.empty()) {
            caCheck.detail = "no agency CA certificate supplied; the bundle's own CA is never "
                             "trusted: give the agency CA certificate (--ca)";
        } else if (bundleCa.empty()) {
            caCheck.detail = caError;
        } else {
            const std::string fp = toHex(backend.sha256(bundleCa.front()));
            std::string subject = "(unreadable)";
            if (auto info = backend.parseCertificateDer(bundleCa.front()))
                subject = info->subject;
            if (supplied.count(fp)) {
                caCheck.status = Status::Pass;
                caCheck.detail = "bundle's CA certificate " + subject + " (SHA-256 " + fp +
                                 ") is the agency CA you supplied";
            } else {
                caCheck.detail = "bundle's CA certificate is not the agency CA you supplied: it is " +
                                 subject + " (SHA-256 " + fp +
                                 "); the clips are checked against your CA only";
            }
        }
    }

    // CRLs: the bundle's and any newer ones the examiner brings.
    std::vector<Bytes> crls;
    if (!index.crl_path().empty() && checkPath("CRL", index.crl_path())) {
        if (auto blocks = crypto::readPemFile(at(index.crl_path()), "X509 CRL"))
            crls = std::move(*blocks);
        else
            indexProblems.push_back(blocks.error().message);
    }
    crls.insert(crls.end(), in.extraCrlsDer.begin(), in.extraCrlsDer.end());

    // Device certificate chains named by the clips.
    std::map<std::string, std::vector<Bytes>> chains;
    std::map<std::string, std::string> chainErrors;
    for (const v1::BundleClip &clip : index.clips()) {
        const std::string &rel = clip.device_cert_path();
        if (chains.count(rel) || chainErrors.count(rel))
            continue;
        if (!checkPath("device certificate", rel)) {
            chainErrors[rel] = "device certificate chain " + rel + " is missing from the bundle";
            continue;
        }
        if (auto certs = crypto::readPemFile(at(rel), "CERTIFICATE"))
            chains[rel] = std::move(*certs);
        else
            chainErrors[rel] = certs.error().message;
    }

    // The chain segment: every manifest first..last, signed by the device, linked.
    std::map<uint64_t, v1::SignedManifest> segment;
    Check segmentCheck{"chain_segment", Status::Fail, ""};
    {
        std::vector<std::string> problems;
        std::vector<crypto::P256Point> keys;
        std::vector<std::string> keyOwners;
        for (const auto &[rel, chainDer] : chains) {
            if (chainDer.empty())
                continue;
            if (auto info = backend.parseCertificateDer(chainDer.front())) {
                keys.push_back(info->publicKey);
                keyOwners.push_back(info->subject);
            }
        }
        if (keys.empty())
            problems.push_back("no readable device certificate in the bundle to check the "
                               "manifest signatures with");
        const uint64_t count = index.last_seq() >= index.first_seq() && index.first_seq() > 0
                                   ? index.last_seq() - index.first_seq() + 1
                                   : 0;
        if (count != uint64_t(index.manifest_paths_size()))
            problems.push_back("the index names " + std::to_string(index.manifest_paths_size()) +
                               " manifest file(s) for seq " + std::to_string(index.first_seq()) +
                               ".." + std::to_string(index.last_seq()));
        std::vector<std::pair<v1::Manifest, crypto::Digest>> run;
        uint64_t signedOk = 0;
        for (const std::string &rel : index.manifest_paths()) {
            if (!safeRelativePath(rel)) {
                problems.push_back("manifest path '" + chain::printableForMessage(rel) +
                                   "' is not a relative path inside the bundle");
                continue;
            }
            auto sm = chain::readManifestFile(at(rel));
            if (!sm) {
                problems.push_back(rel + ": " + sm.error().message);
                continue;
            }
            auto parsed = chain::parseManifest(*sm);
            if (!parsed) {
                problems.push_back(rel + ": " + parsed.error().message);
                continue;
            }
            if (parsed->device_id() != index.device_id())
                problems.push_back(rel + ": " + chain::describeManifest(*parsed) +
                                   " is not of the bundle's device " +
                                   chain::printableForMessage(index.device_id()));
            if (!keys.empty()) {
                bool verified = false;
                for (const crypto::P256Point &key : keys)
                    if (chain::verifySignedManifest(backend, key, *sm)) {
                        verified = true;
                        break;
                    }
                if (verified)
                    ++signedOk;
                else
                    problems.push_back(rel + ": " + chain::describeManifest(*parsed) +
                                       " is not signed by the device certificate in the bundle "
                                       "(altered, or signed by another key)");
            }
            run.emplace_back(*parsed, chain::manifestSha256(backend, *sm));
            segment[parsed->seq()] = std::move(*sm);
        }
        if (!run.empty()) {
            if (run.front().first.seq() != index.first_seq())
                problems.push_back("the segment starts at seq " +
                                   std::to_string(run.front().first.seq()) +
                                   " but the index says " + std::to_string(index.first_seq()) +
                                   (run.front().first.seq() > index.first_seq()
                                        ? ": seq " + std::to_string(index.first_seq()) +
                                              " onwards missing"
                                        : ""));
            if (run.back().first.seq() != index.last_seq())
                problems.push_back("the segment ends at seq " +
                                   std::to_string(run.back().first.seq()) +
                                   " but the index says " + std::to_string(index.last_seq()));
            if (auto linked = chain::verifyChainSegment(run); !linked)
                problems.push_back(linked.error().message);
        } else {
            problems.push_back("no manifest of the chain segment could be read");
        }
        if (problems.empty()) {
            segmentCheck.status = Status::Pass;
            segmentCheck.detail = "every manifest seq " + std::to_string(index.first_seq()) +
                                  " to " + std::to_string(index.last_seq()) + " (" +
                                  std::to_string(run.size()) +
                                  ") present, signed by the device and linked by "
                                  "prev_manifest_sha256";
        } else {
            segmentCheck.detail = joinDetail(problems) +
                                  " (a manifest was removed, replaced or reordered; the chain "
                                  "segment does not prove that no clip is missing)";
        }
    }

    // Every clip, with the manifests before it in the segment.
    for (const v1::BundleClip &clip : index.clips()) {
        ClipInputs ci;
        ci.clipPath = at(clip.clip_path());
        ci.manifestPath = at(clip.manifest_path());
        std::optional<std::string> certError;
        if (auto it = chains.find(clip.device_cert_path()); it != chains.end())
            ci.deviceCertChainDer = it->second;
        else if (auto e = chainErrors.find(clip.device_cert_path()); e != chainErrors.end())
            certError = e->second;
        ci.trustAnchorsDer = in.trustAnchorsDer;
        ci.crlsDer = crls;
        for (auto it = segment.lower_bound(index.first_seq());
             it != segment.end() && it->first < clip.seq(); ++it)
            ci.precedingManifests.push_back(it->second);
        ci.evidenceKey = in.evidenceKey;
        ci.nowUtcMs = now;
        ci.progress = in.progress;
        if (!safeRelativePath(clip.clip_path()) || !safeRelativePath(clip.manifest_path())) {
            indexProblems.push_back("clip seq " + std::to_string(clip.seq()) +
                                    ": its paths leave the bundle");
            continue;
        }
        checkPath("clip file", clip.clip_path());
        checkPath("clip manifest", clip.manifest_path());
        if (!clip.plaintext_path().empty())
            checkPath("plaintext", clip.plaintext_path());

        ClipReport cr = detail::verifyClipWith(backend, ci, certError);
        if (cr.seq != clip.seq())
            indexProblems.push_back("clip " + clip.clip_path() + ": the index says seq " +
                                    std::to_string(clip.seq()) + " but its manifest is seq " +
                                    std::to_string(cr.seq));
        if (clip.seq() < index.first_seq() || clip.seq() > index.last_seq())
            indexProblems.push_back("clip " + clip.clip_path() + " (seq " +
                                    std::to_string(clip.seq()) +
                                    ") lies outside the chain segment");
        if (auto it = segment.find(clip.seq()); it != segment.end()) {
            if (auto own = chain::readManifestFile(ci.manifestPath);
                own && own->manifest() != it->second.manifest())
                indexProblems.push_back("clip " + clip.clip_path() +
                                        ": its manifest differs from seq " +
                                        std::to_string(clip.seq()) + " of the chain segment");
        }
        report.clips.push_back(std::move(cr));
    }
    if (index.clips_size() == 0)
        indexProblems.push_back("the bundle holds no clip");

    Check indexCheck{"index", Status::Pass, ""};
    if (indexProblems.empty())
        indexCheck.detail = std::string(kIndexName) + ": device " +
                            chain::printableForMessage(index.device_id()) + ", " +
                            std::to_string(index.clips_size()) + " clip(s), seq " +
                            std::to_string(index.first_seq()) + " to " +
                            std::to_string(index.last_seq()) + "; every file it names is present";
    else {
        indexCheck.status = Status::Fail;
        indexCheck.detail = std::string(kIndexName) + ": " + joinDetail(indexProblems);
    }
    report.bundleChecks.push_back(std::move(indexCheck));
    report.bundleChecks.push_back(std::move(caCheck));
    report.bundleChecks.push_back(std::move(segmentCheck));
    return report;
}

} // namespace bwc::verify
