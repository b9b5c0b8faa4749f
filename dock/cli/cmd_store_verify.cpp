// `bwc verify UUID` (re-verify a stored clip from the dock's store) and `bwc export`
// (a bundle of stored clips for court), both audited.

#include "dock/cli/commands.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <optional>
#include <ostream>
#include <set>

#include "common/base/clock.h"
#include "common/base/file.h"
#include "common/chain/manifest.h"
#include "dock/cli/cli_util.h"
#include "dock/cli/store_session.h"
#include "dock/verify/verify.h"

namespace bwc::cli {

namespace {

std::function<void(uint64_t, uint64_t)> progressTo(Console &console, std::string what)
{
    if (!console.progress)
        return {};
    return [&console, what = std::move(what)](uint64_t done, uint64_t total) {
        if (total == 0)
            return;
        console.err << "\r" << what << ": " << humanBytes(done) << " of " << humanBytes(total)
                    << " (" << done * 100 / total << " %)   " << std::flush;
        if (done >= total)
            console.err << "\n";
    };
}

std::string purgedMessage(const store::ClipRow &clip, std::string_view what)
{
    return "clip " + formatClipUuid(clip.uuid) + " of device " + clip.deviceId + " seq " +
           std::to_string(clip.seq) +
           " was purged (crypto-erase): its media and wrapped keys are gone and only the signed "
           "manifest remains as a tombstone, so it cannot be " +
           std::string(what) + "; `bwc show` lists the tombstone and its custody";
}

std::string storedSubject(const StoreSession &s, const store::ClipRow &clip)
{
    return "stored clip " + formatClipUuid(clip.uuid) + " (" + clip.objectPath + ") of dock " +
           s.config().config.dock_id();
}

Expected<verify::Report> verifyStored(const VerifyArgs &args, Console &console, StoreSession &s,
                                      store::ClipRow &clipOut)
{
    if (!args.manifest.empty())
        return Error(Errc::Usage, "--manifest applies to a clip file; a stored clip is verified "
                                  "with the manifest the catalog holds");
    BWC_ASSIGN(clip, s.findClip(args.path));
    clipOut = clip;
    if (clip.state == store::ClipState::Purged)
        return Error(Errc::Usage, purgedMessage(clip, "verified"));
    BWC_ASSIGN(signedManifest, s.manifest(clip.deviceId, clip.seq));
    BWC_ASSIGN(preceding, s.precedingManifests(clip.deviceId, clip.seq));
    BWC_ASSIGN(certs, s.deviceCertChain(clip.deviceId, args.cert));
    BWC_ASSIGN(ca, s.caDer(args.ca));
    BWC_ASSIGN(crls, s.crlsDer(args.crls));
    BWC_ASSIGN(key, s.evidenceKey(args.key));

    BWC_ASSIGN(work, TempDirectory::create());
    const std::string manifestPath = work.path() + "/manifest.bwcm";
    BWC_TRY(atomicReplace(manifestPath, chain::serializeSignedManifest(signedManifest), 0600));

    verify::ClipInputs in;
    in.clipPath = clip.objectPath;
    in.manifestPath = manifestPath;
    in.deviceCertChainDer = certs.der;
    in.trustAnchorsDer = {ca};
    in.crlsDer = crls;
    in.precedingManifests = preceding;
    in.evidenceKey = key;
    in.nowUtcMs = s.clock().utcMs();
    in.progress = progressTo(console, "verifying");

    verify::Report report;
    report.toolVersion = toolVersion() + " (" + s.backend().name() + ")";
    report.examiner = args.examiner.empty() ? s.actor() : args.examiner;
    report.createdUtcMs = in.nowUtcMs;
    report.subject = storedSubject(s, clip);
    report.clips.push_back(verify::verifyClip(s.backend(), in));
    report.clips.back().clipPath = clip.objectPath;

    const bool passed = report.passed();
    std::string detail = "re-verified from the store: " + std::string(passed ? "PASS" : "FAIL");
    if (!passed) {
        std::string failed;
        for (const verify::Check &c : report.clips.back().checks)
            if (c.status == verify::Status::Fail)
                failed += (failed.empty() ? "" : ", ") + c.name;
        detail += " (" + failed + ")";
    }
    if (!key)
        detail += "; not decrypted (no agency evidence key)";
    BWC_TRY(s.audit(audit::AuditRecord{s.actor(), "verify", args.reason, clip.deviceId, clip.seq,
                                       clip.uuid, passed ? "PASS" : "FAIL", detail}));
    BWC_ASSIGN(custody, s.custody(clip));
    report.custody.push_back(certs.note);
    if (!key)
        report.custody.push_back("no agency evidence key configured (aek_key_path) or given "
                                 "(--key): chunks were not decrypted");
    report.custody.insert(report.custody.end(), custody.begin(), custody.end());
    return report;
}

} // namespace

int runVerifyStored(const VerifyArgs &args, Console &console)
{
    constexpr std::string_view kCommand = "verify";
    if (auto ok = requireReason(kCommand, args.reason); !ok)
        return reportError(console, kCommand, ok.error());
    StoreArgs storeArgs;
    storeArgs.dockConfig = args.dockConfig;
    storeArgs.actor = args.actor;
    storeArgs.reason = args.reason;
    auto session = StoreSession::open(storeArgs, console.clock);
    if (!session)
        return reportError(console, kCommand, session.error());
    store::ClipRow clip;
    auto report = verifyStored(args, console, **session, clip);
    if (!report)
        return reportError(console, kCommand, report.error());
    const std::string text = args.json ? verify::renderJson(*report) : verify::renderText(*report);
    if (!args.reportOut.empty()) {
        if (auto ok = atomicReplace(args.reportOut, asBytes(text)); !ok)
            return reportError(console, kCommand, ok.error().context("--report-out"));
    }
    console.out << text;
    if (!text.empty() && text.back() != '\n')
        console.out << "\n";
    return report->passed() ? kExitOk : kExitCheckFailed;
}

int runVerifyAny(const VerifyArgs &args, Console &console)
{
    auto target = classifyVerifyTarget(args.path);
    if (!target)
        return reportError(console, "verify", target.error());
    if (*target == VerifyTarget::StoredClip)
        return runVerifyStored(args, console);
    if (!args.dockConfig.empty() || !args.reason.empty())
        console.err << "bwc verify: " << args.path
                    << " is a file or directory: verified offline; --dock-config and --reason "
                       "apply to stored clips only\n";
    return runVerify(args);
}

namespace {

struct ExportOutcome {
    verify::Report report;
    std::string deviceId;
    uint64_t firstSeq = 0, lastSeq = 0, bytes = 0;
    size_t clips = 0;
};

Expected<ExportOutcome> exportClips(const ExportArgs &args, Console &console, StoreSession &s)
{
    if (args.uuids.empty())
        return Error(Errc::Usage, "no clip given; name the clips to export by uuid (`bwc list`)");
    if (args.out.empty())
        return Error(Errc::Usage, "--out DIR is required: the bundle directory to create");

    std::vector<store::ClipRow> clips;
    std::set<std::string> seen;
    for (const std::string &arg : args.uuids) {
        BWC_ASSIGN(clip, s.findClip(arg));
        if (!seen.insert(clip.uuid).second)
            continue;
        if (clip.state == store::ClipState::Purged)
            return Error(Errc::Usage, purgedMessage(clip, "exported"));
        if (!clips.empty() && clip.deviceId != clips.front().deviceId)
            return Error(Errc::Usage,
                         "clips of more than one device: " + formatClipUuid(clips.front().uuid) +
                             " is of device " + clips.front().deviceId + ", " +
                             formatClipUuid(clip.uuid) + " of device " + clip.deviceId +
                             "; a bundle carries one device's chain: export each device's "
                             "clips to its own bundle");
        clips.push_back(std::move(clip));
    }
    std::sort(clips.begin(), clips.end(),
              [](const store::ClipRow &a, const store::ClipRow &b) { return a.seq < b.seq; });

    ExportOutcome outcome;
    outcome.deviceId = clips.front().deviceId;
    outcome.firstSeq = clips.front().seq;
    outcome.lastSeq = clips.back().seq;
    outcome.clips = clips.size();

    BWC_ASSIGN(segment, s.manifests(outcome.deviceId, outcome.firstSeq, outcome.lastSeq));
    BWC_ASSIGN(certs, s.deviceCertChain(outcome.deviceId));
    BWC_ASSIGN(ca, s.caDer());
    BWC_ASSIGN(crls, s.crlsDer());
    BWC_ASSIGN(key, s.evidenceKey());
    if (args.plaintext && !key)
        return Error(Errc::Usage, "--plaintext needs the agency evidence key to decrypt the "
                                  "clips: set aek_key_path in " +
                                      s.config().path + ", or export without --plaintext");
    if (pathExists(args.out)) {
        std::error_code ec;
        if (!std::filesystem::is_directory(args.out, ec) || !std::filesystem::is_empty(args.out, ec))
            return Error(Errc::Exists, "--out " + args.out +
                                           ": exists and is not an empty directory; choose a "
                                           "new directory for the bundle");
    }

    std::optional<TempDirectory> work;
    if (args.plaintext) {
        BWC_ASSIGN(dir, TempDirectory::create(args.out));
        work.emplace(std::move(dir));
    }

    verify::BundleSource source;
    source.deviceId = outcome.deviceId;
    source.chainSegment = segment;
    source.caCertDer = ca;
    source.crlDer = crls.empty() ? Bytes() : crls.front();
    source.exportedBy = s.actor();
    source.reason = args.reason;
    source.toolVersion = toolVersion() + " (" + s.backend().name() + ")";
    source.exportedUtcMs = s.clock().utcMs();
    uint64_t total = 0;
    for (const store::ClipRow &c : clips)
        total += c.size;
    size_t index = 0;
    for (const store::ClipRow &c : clips) {
        ++index;
        if (console.progress)
            console.err << "exporting clip " << index << " of " << clips.size() << ": "
                        << formatClipUuid(c.uuid) << " seq " << c.seq << " ("
                        << humanBytes(c.size) << ")\n";
        BWC_TRY(requireFile("stored object of clip " + formatClipUuid(c.uuid), c.objectPath,
                            "the store has lost the file; run `bwc verify " +
                                formatClipUuid(c.uuid) + "` and report it"));
        verify::BundleClipSource clip;
        clip.clipPath = c.objectPath;
        clip.manifest = segment[size_t(c.seq - outcome.firstSeq)];
        clip.deviceCertChainDer = certs.der;
        if (args.plaintext) {
            BWC_ASSIGN(m, chain::parseManifest(clip.manifest));
            clip.plaintextPath = work->path() + "/" + toHex(asBytes(c.uuid)) + ".mp4";
            BWC_TRY(decryptClip(s.backend(), c.objectPath, m, *key, clip.plaintextPath));
        }
        source.clips.push_back(std::move(clip));
        outcome.bytes += c.size;
    }
    if (console.progress)
        console.err << "writing bundle " << args.out << " (" << humanBytes(total) << ")\n";
    BWC_TRY(verify::writeBundle(args.out, source));
    work.reset();

    verify::BundleInputs in;
    in.bundleDir = args.out;
    in.trustAnchorsDer = {ca};
    in.evidenceKey = key;
    in.nowUtcMs = s.clock().utcMs();
    in.progress = progressTo(console, "verifying the bundle");
    verify::Report report = verify::verifyBundle(s.backend(), in);
    report.toolVersion = source.toolVersion;
    report.examiner = s.actor();
    report.createdUtcMs = in.nowUtcMs;
    report.subject = "export bundle " + args.out + " of dock " + s.config().config.dock_id();

    const std::string verdict = report.passed() ? "PASS" : "FAIL";
    for (const store::ClipRow &c : clips)
        BWC_TRY(s.audit(audit::AuditRecord{
            s.actor(), "export", args.reason, c.deviceId, c.seq, c.uuid, "exported",
            "bundle " + args.out + ": " + std::to_string(clips.size()) + " clip(s), seq " +
                std::to_string(outcome.firstSeq) + ".." + std::to_string(outcome.lastSeq) +
                (args.plaintext ? ", with plaintext" : "") + "; bundle verification " +
                verdict}));
    report.custody.push_back(certs.note);
    for (const store::ClipRow &c : clips) {
        BWC_ASSIGN(custody, s.custody(c));
        for (const std::string &line : custody)
            report.custody.push_back("clip " + formatClipUuid(c.uuid) + ": " + line);
    }
    BWC_TRY(atomicReplace(args.out + "/report.txt", asBytes(verify::renderText(report))));
    BWC_TRY(atomicReplace(args.out + "/report.json", asBytes(verify::renderJson(report))));
    BWC_TRY(fsyncDirectory(args.out));
    outcome.report = std::move(report);
    return outcome;
}

} // namespace

int runExport(const ExportArgs &args, Console &console)
{
    constexpr std::string_view kCommand = "export";
    if (auto ok = requireReason(kCommand, args.reason); !ok)
        return reportError(console, kCommand, ok.error());
    auto session = StoreSession::open(args, console.clock);
    if (!session)
        return reportError(console, kCommand, session.error());
    auto outcome = exportClips(args, console, **session);
    if (!outcome)
        return reportError(console, kCommand, outcome.error());
    const bool passed = outcome->report.passed();
    if (args.json) {
        console.out << verify::renderJson(outcome->report);
    } else {
        console.out << "exported " << outcome->clips << " clip(s) of device " << outcome->deviceId
                    << " (seq " << outcome->firstSeq << ".." << outcome->lastSeq << ", "
                    << humanBytes(outcome->bytes) << ") to " << args.out << "\n"
                    << "bundle verification: " << (passed ? "PASS" : "FAIL") << " (report in "
                    << args.out << "/report.txt and report.json)\n"
                    << "check it independently with: bwc verify " << args.out
                    << " --ca <agency ca.pem>\n";
    }
    if (!passed)
        console.err << "bwc export: the bundle written to " << args.out
                    << " does not verify; see its report.txt before handing it over\n";
    return passed ? kExitOk : kExitCheckFailed;
}

} // namespace bwc::cli
