// `bwc seal`: seals any file as a clip with a software device identity, through the same
// ClipSession the camera's recorder uses.

#include "dock/cli/commands.h"

#include <cerrno>
#include <fcntl.h>
#include <filesystem>
#include <iostream>
#include <memory>
#include <unistd.h>

#include "bwc/v1/clip.pb.h"
#include "common/base/clock.h"
#include "common/base/file.h"
#include "common/base/unique_fd.h"
#include "common/chain/chain_state.h"
#include "common/chain/clip_session.h"
#include "common/chain/identity.h"
#include "common/chain/manifest.h"
#include "common/container/container.h"
#include "common/container/metadata.h"
#include "common/crypto/pem.h"
#include "dock/cli/cli_util.h"

namespace bwc::cli {

namespace {

constexpr std::string_view kCommand = "seal";
constexpr size_t kPieceBytes = 64 * 1024;
constexpr uint64_t kCheckpointEveryBytes = 8u << 20;

int fail(const Error &error)
{
    std::cerr << formatError(kCommand, error) << "\n";
    return kExitUsage;
}

// A private directory inside the output directory where the clip is written until it is
// sealed, so that the output directory only ever holds complete clips.
class StagingDir
{
public:
    static Expected<StagingDir> create(const std::string &parent)
    {
        std::string pattern = parent + "/.bwc-seal-XXXXXX";
        if (!::mkdtemp(pattern.data()))
            return Error(Errc::Io, parent + ": cannot create a staging directory: " +
                                       errnoText(errno) + "; check that --out is writable");
        return StagingDir(pattern);
    }
    StagingDir(StagingDir &&other) noexcept : path_(std::exchange(other.path_, {})) {}
    StagingDir &operator=(StagingDir &&) = delete;
    StagingDir(const StagingDir &) = delete;
    ~StagingDir()
    {
        if (path_.empty())
            return;
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::string &path() const { return path_; }

private:
    explicit StagingDir(std::string path) : path_(std::move(path)) {}
    std::string path_;
};

Expected<crypto::P256Point> loadRecipient(const crypto::Backend &backend, const std::string &path)
{
    BWC_ASSIGN(certs, crypto::readPemFile(path, "CERTIFICATE"));
    auto info = backend.parseCertificateDer(certs.front());
    if (!info)
        return std::move(info).error().context("--recipient " + path);
    return info->publicKey;
}

Expected<void> appendMetadata(chain::ClipSession &session, int64_t startMono,
                              const v1::MetadataRecord &record)
{
    v1::MetadataRecord r = record;
    r.set_utc_ms(utcNowMs());
    r.set_mono_ms((monoNowNs() - startMono) / 1'000'000);
    return session.append(container::kMetadataStreamId, container::frameMetadataRecord(r));
}

v1::MetadataRecord eventRecord(const std::string &name, const std::string &detail)
{
    v1::MetadataRecord r;
    r.mutable_event()->set_name(name);
    r.mutable_event()->set_detail(detail);
    return r;
}

struct Sealed {
    std::string uuid;
    uint64_t seq = 0;
    uint64_t inputBytes = 0;
    ClipSiblings outputs;
    std::string clipPath;
};

Expected<Sealed> seal(const SealArgs &args)
{
    // Check everything given before anything is created.
    BWC_TRY(requireFile("", args.input, "give the file to seal"));
    BWC_TRY(requireFile("--device-key", args.deviceKey,
                        "give the device key (devices/<id>.key of the agency PKI)"));
    BWC_TRY(requireFile("--device-cert", args.deviceCert,
                        "give the device certificate chain (devices/<id>.pem of the agency PKI)"));
    if (args.recipients.empty())
        return Error(Errc::Usage, "no --recipient given; give the agency evidence key "
                                  "certificate (recipients/<name>.pem): without one nobody "
                                  "could ever open the clip");
    for (const std::string &r : args.recipients)
        BWC_TRY(
            requireFile("--recipient", r, "give a recipient certificate (recipients/<name>.pem)"));
    if (args.stateDir.empty() || args.outDir.empty())
        return Error(Errc::Usage, "--state and --out are required");
    BWC_ASSIGN(kind, parseBackendName(args.backend));
    std::unique_ptr<crypto::Backend> backend =
        kind == BackendKind::Mbedtls ? crypto::makeMbedtlsBackend() : crypto::makeOpensslBackend();

    std::vector<crypto::P256Point> recipients;
    for (const std::string &r : args.recipients) {
        BWC_ASSIGN(point, loadRecipient(*backend, r));
        recipients.push_back(point);
    }

    BWC_TRY(makeDirectories(args.stateDir, 0700));
    auto identity = chain::SoftwareIdentity::load(*backend, args.deviceKey, args.deviceCert,
                                                  args.stateDir + "/counter");
    if (!identity)
        return std::move(identity).error().context("device identity");
    SystemClock clock;
    auto chainState = chain::ChainState::open(*backend, **identity, args.stateDir, clock);
    if (!chainState)
        return std::move(chainState).error().context("--state " + args.stateDir);
    for (const std::string &note : (*chainState)->recoveryNotes())
        std::cerr << "bwc seal: chain recovery: " << note << "\n";

    UniqueFd in(::open(args.input.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in.isValid())
        return Error(Errc::NotFound, args.input + ": cannot open: " + errnoText(errno) +
                                         "; check the path and its permissions");
    BWC_ASSIGN(inputSize, fileSize(args.input));

    BWC_TRY(makeDirectories(args.outDir));
    BWC_ASSIGN(staging, StagingDir::create(args.outDir));

    chain::SessionOptions options;
    options.clipDir = staging.path();
    options.writer.streams = {
        {container::kMediaStreamId, v1::STREAM_TYPE_MEDIA, "video/mp4"},
        {container::kMetadataStreamId, v1::STREAM_TYPE_METADATA,
         std::string(container::kMetadataContentType)},
    };
    options.writer.recipients = recipients;
    options.officerId = args.officer;
    options.trigger = v1::TRIGGER_IMPORT;
    options.startUtcMs = utcNowMs();
    options.fwVersion = toolVersion();
    options.clockSource = v1::CLOCK_SOURCE_UNKNOWN;
    options.sourceName = baseName(args.input);
    const int64_t startMono = monoNowNs();

    BWC_ASSIGN(session, chain::ClipSession::create(*backend, **identity, options));
    const std::string uuid = container::uuidToString(session->clipUuid());

    v1::MetadataRecord timeRecord;
    timeRecord.mutable_time()->set_source(v1::CLOCK_SOURCE_UNKNOWN);
    BWC_TRY(appendMetadata(*session, startMono, timeRecord));
    BWC_TRY(appendMetadata(*session, startMono,
                           eventRecord("import", "file " + options.sourceName + ", " +
                                                     std::to_string(inputSize) + " bytes")));

    const bool tty = ::isatty(STDERR_FILENO) == 1;
    Bytes piece(kPieceBytes);
    uint64_t total = 0, sinceCheckpoint = 0;
    for (;;) {
        BWC_ASSIGN(n, readSome(in.get(), piece, args.input));
        if (n == 0)
            break;
        BWC_TRY(session->append(container::kMediaStreamId, ByteView(piece.data(), n)));
        total += n;
        sinceCheckpoint += n;
        if (sinceCheckpoint >= kCheckpointEveryBytes) {
            BWC_TRY(session->checkpoint(utcNowMs()));
            sinceCheckpoint = 0;
            if (tty && inputSize > 0)
                std::cerr << "\rsealing: " << humanBytes(total) << " of " << humanBytes(inputSize)
                          << " (" << total * 100 / inputSize << " %)" << std::flush;
        }
    }
    if (tty && total >= kCheckpointEveryBytes)
        std::cerr << "\n";
    BWC_TRY(appendMetadata(*session, startMono,
                           eventRecord("import.end", std::to_string(total) + " bytes sealed")));
    BWC_ASSIGN(signedManifest, session->seal(**chainState, utcNowMs()));
    BWC_ASSIGN(manifest, chain::parseManifest(signedManifest));

    // The clip is sealed and its manifest is in the chain: move it out of staging.
    Sealed result;
    result.uuid = uuid;
    result.seq = manifest.seq();
    result.inputBytes = total;
    result.outputs = sealOutputs(args.outDir, uuid);
    result.clipPath = result.outputs.stem + std::string(kClipSuffix);
    for (const std::string *p :
         {&result.clipPath, &result.outputs.manifestPath, &result.outputs.certPath}) {
        if (pathExists(*p))
            return Error(Errc::Exists, *p + ": already exists; the sealed clip stays in " +
                                           staging.path() + "; move it by hand");
    }
    BWC_TRY(
        atomicReplace(result.outputs.manifestPath, chain::serializeSignedManifest(signedManifest)));
    std::string pem;
    for (const Bytes &der : (*identity)->certChainDer())
        pem += crypto::toPem("CERTIFICATE", der);
    BWC_TRY(atomicReplace(result.outputs.certPath, asBytes(pem)));
    if (::rename(session->clipPath().c_str(), result.clipPath.c_str()) != 0)
        return Error(Errc::Io, result.clipPath + ": rename failed: " + errnoText(errno));
    BWC_TRY(fsyncDirectory(args.outDir));
    return result;
}

} // namespace

int runSeal(const SealArgs &args)
{
    auto sealed = seal(args);
    if (!sealed)
        return fail(sealed.error());
    std::cout << "sealed " << args.input << " (" << humanBytes(sealed->inputBytes) << ")\n"
              << "  clip uuid: " << sealed->uuid << "\n"
              << "  seq:       " << sealed->seq << "\n"
              << "  clip:      " << sealed->clipPath << "\n"
              << "  manifest:  " << sealed->outputs.manifestPath << "\n"
              << "  certs:     " << sealed->outputs.certPath << "\n"
              << "  backend:   " << args.backend << "\n";
    return kExitOk;
}

} // namespace bwc::cli
