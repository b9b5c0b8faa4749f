// `bwc verify`: verifies a clip or an export bundle offline and prints the report.

#include "dock/cli/commands.h"

#include <cstdlib>
#include <iostream>
#include <memory>
#include <unistd.h>

#include "common/base/clock.h"
#include "common/base/file.h"
#include "common/chain/manifest.h"
#include "common/crypto/pem.h"
#include "dock/cli/cli_util.h"
#include "dock/verify/verify.h"

namespace bwc::cli {

namespace {

constexpr std::string_view kCommand = "verify";

Expected<std::vector<Bytes>> readCrls(const std::vector<std::string> &paths)
{
    std::vector<Bytes> out;
    for (const std::string &path : paths) {
        BWC_TRY(requireFile("--crl", path, "give the agency's current CRL (crl.pem)"));
        BWC_ASSIGN(crls, crypto::readPemFile(path, "X509 CRL"));
        out.insert(out.end(), crls.begin(), crls.end());
    }
    return out;
}

std::function<void(uint64_t, uint64_t)> progressPrinter()
{
    if (::isatty(STDERR_FILENO) != 1)
        return {};
    return [](uint64_t done, uint64_t total) {
        if (total == 0)
            return;
        std::cerr << "\rverifying: " << humanBytes(done) << " of " << humanBytes(total) << " ("
                  << done * 100 / total << " %)   " << std::flush;
        if (done >= total)
            std::cerr << "\n";
    };
}

std::string defaultExaminer()
{
    const char *user = std::getenv("USER");
    return user && *user ? user : "unknown";
}

Expected<verify::Report> run(const VerifyArgs &args, const crypto::Backend &backend)
{
    if (args.ca.empty())
        return Error(Errc::Usage,
                     "--ca is required: give the agency CA certificate (ca.pem) from the "
                     "agency itself. The trust anchor must come from the examiner, never from "
                     "the evidence being checked: a forger can put any CA next to a forged clip");
    BWC_TRY(requireFile("--ca", args.ca, "give the agency CA certificate (ca.pem)"));
    BWC_ASSIGN(anchors, crypto::readPemFile(args.ca, "CERTIFICATE"));
    BWC_ASSIGN(crls, readCrls(args.crls));

    std::optional<crypto::P256KeyPair> evidenceKey;
    if (!args.key.empty()) {
        BWC_TRY(requireFile("--key", args.key,
                            "give the agency evidence key (recipients/<name>.key) or leave "
                            "--key out to verify without decrypting"));
        BWC_ASSIGN(key, loadPrivateKey(backend, args.key));
        evidenceKey = key;
    }
    const int64_t now = utcNowMs();

    if (isBundleDirectory(args.path)) {
        if (!args.cert.empty() || !args.manifest.empty())
            return Error(Errc::Usage, "--cert and --manifest apply to a single clip; a bundle "
                                      "carries its own certificates and manifests");
        verify::BundleInputs in;
        in.bundleDir = args.path;
        in.trustAnchorsDer = anchors;
        in.extraCrlsDer = crls;
        in.evidenceKey = evidenceKey;
        in.nowUtcMs = now;
        in.progress = progressPrinter();
        verify::Report report = verify::verifyBundle(backend, in);
        report.toolVersion = toolVersion() + " (" + backend.name() + ")";
        report.examiner = args.examiner.empty() ? defaultExaminer() : args.examiner;
        report.createdUtcMs = now;
        report.subject = args.path;
        return report;
    }

    BWC_TRY(requireFile("", args.path,
                        "give a clip file (<uuid>.bwcclip) or an export bundle directory"));
    BWC_ASSIGN(siblings, clipSiblings(args.path));

    verify::ClipInputs in;
    in.clipPath = args.path;
    in.manifestPath = args.manifest.empty() ? siblings.manifestPath : args.manifest;
    BWC_TRY(requireFile(args.manifest.empty() ? "manifest" : "--manifest", in.manifestPath,
                        "give the clip's signed manifest (<uuid>.bwcm) with --manifest"));
    const std::string certPath = args.cert.empty() ? siblings.certPath : args.cert;
    BWC_TRY(requireFile(args.cert.empty() ? "device certificate" : "--cert", certPath,
                        "give the device certificate chain with --cert (devices/<id>.pem of "
                        "the agency PKI)"));
    BWC_ASSIGN(chainDer, crypto::readPemFile(certPath, "CERTIFICATE"));
    in.deviceCertChainDer = chainDer;
    in.trustAnchorsDer = anchors;
    in.crlsDer = crls;
    if (args.crls.empty()) {
        // The agency PKI keeps its CRL next to its CA certificate.
        const std::string next = parentDirectory(args.ca) + "/crl.pem";
        if (pathExists(next)) {
            std::cerr << "bwc verify: no --crl given; using " << next << "\n";
            BWC_ASSIGN(found, readCrls({next}));
            in.crlsDer = found;
        }
    }
    in.evidenceKey = evidenceKey;
    in.nowUtcMs = now;
    in.progress = progressPrinter();

    verify::Report report;
    report.toolVersion = toolVersion() + " (" + backend.name() + ")";
    report.examiner = args.examiner.empty() ? defaultExaminer() : args.examiner;
    report.createdUtcMs = now;
    report.subject = args.path;
    report.clips.push_back(verify::verifyClip(backend, in));
    return report;
}

} // namespace

int runVerify(const VerifyArgs &args)
{
    auto backend = crypto::makeOpensslBackend();
    auto report = run(args, *backend);
    if (!report) {
        std::cerr << formatError(kCommand, report.error()) << "\n";
        return kExitUsage;
    }
    const std::string text = args.json ? verify::renderJson(*report) : verify::renderText(*report);
    if (!args.reportOut.empty()) {
        if (auto ok = atomicReplace(args.reportOut, asBytes(text)); !ok) {
            std::cerr << formatError(kCommand, ok.error().context("--report-out")) << "\n";
            return kExitUsage;
        }
    }
    std::cout << text;
    if (!text.empty() && text.back() != '\n')
        std::cout << "\n";
    return report->passed() ? kExitOk : kExitCheckFailed;
}

} // namespace bwc::cli
