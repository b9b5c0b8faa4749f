#include "dock/cli/store_session.h"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <ostream>
#include <unistd.h>

#include "bwc/v1/receipt.pb.h"
#include "common/base/file.h"
#include "common/chain/identity.h"
#include "common/chain/manifest.h"
#include "common/container/container.h"
#include "common/crypto/pem.h"
#include "dock/audit/database.h"
#include "dock/cli/cli_util.h"

namespace bwc::cli {

namespace {

std::string configPath(const StoreArgs &args)
{
    return args.dockConfig.empty() ? std::string(dock::kDefaultDockConfigPath) : args.dockConfig;
}

} // namespace

StoreSession::StoreSession(const Clock &clock, std::string actor, dock::LoadedDockConfig config,
                           std::unique_ptr<crypto::Backend> backend)
    : clock_(clock), actor_(std::move(actor)), config_(std::move(config)),
      backend_(std::move(backend))
{
}

StoreSession::~StoreSession() = default;

Expected<std::unique_ptr<StoreSession>> StoreSession::open(const StoreArgs &args,
                                                           const Clock &clock)
{
    const std::string path = configPath(args);
    auto loaded = dock::loadDockConfig(path);
    if (!loaded) {
        Error e = std::move(loaded).error();
        if (e.code == Errc::NotFound)
            e.message += "; give the dock's configuration with --dock-config FILE";
        return e;
    }
    auto backend = crypto::makeOpensslBackend();
    if (!backend)
        return Error(Errc::Crypto, "the OpenSSL crypto backend is not available in this build");
    const v1::DockConfig &c = loaded->config;

    const std::string catalogPath = c.store_path() + "/catalog.db";
    if (!pathExists(catalogPath))
        return Error(Errc::NotFound,
                     "no evidence store at " + c.store_path() + " (store_path in " + path +
                         "): " + catalogPath +
                         " does not exist; check store_path, or start bwc-dockd once to create "
                         "the store");

    const std::string keyHint = "; the evidence commands sign their audit entries with the "
                                "dock key: run them as a user who can read it";
    auto key = loadPrivateKey(*backend, c.key_path());
    if (!key)
        return Error(key.error().code, "dock key (key_path in " + path +
                                           "): " + key.error().message + keyHint);
    auto chain = crypto::readPemFile(c.cert_path(), "CERTIFICATE");
    if (!chain)
        return Error(chain.error().code, "dock certificate (cert_path in " + path +
                                             "): " + chain.error().message);

    const std::string actor = args.actor.empty() ? defaultActor() : args.actor;
    std::unique_ptr<StoreSession> session(
        new StoreSession(clock, actor, std::move(*loaded), std::move(backend)));
    store::DockIdentity identity{std::move(*key), std::move(*chain)};
    auto opened = store::EvidenceStore::open(session->config_.config.store_path(),
                                             std::move(identity), *session->backend_, clock);
    if (!opened)
        return std::move(opened).error().context("dock config " + path);
    session->store_ = std::move(*opened);
    return session;
}

Expected<void> StoreSession::audit(const audit::AuditRecord &record)
{
    BWC_ASSIGN(txn, catalog().begin());
    BWC_TRY(store_->auditLog().append(txn, record));
    return txn.commit();
}

Expected<store::ClipRow> StoreSession::findClip(const std::string &uuidArgument)
{
    auto raw = parseClipUuid(uuidArgument);
    if (!raw)
        return Error(Errc::Usage, uuidArgument +
                                      ": not a clip uuid; give 32 hex digits or the "
                                      "8-4-4-4-12 form that `bwc list` shows");
    BWC_ASSIGN(row, catalog().clip(*raw));
    if (!row)
        return Error(Errc::NotFound, "clip " + formatClipUuid(*raw) +
                                         " is not in the evidence store " +
                                         store_->root() +
                                         " (quarantined attempts are not served); check the "
                                         "uuid with `bwc list`");
    return *row;
}

Expected<v1::SignedManifest> StoreSession::manifest(const std::string &deviceId, uint64_t seq)
{
    BWC_ASSIGN(row, catalog().manifest(deviceId, seq));
    if (!row)
        return Error(Errc::NotFound, "the catalog holds no manifest for device " +
                                         chain::printableForMessage(deviceId) + " seq " +
                                         std::to_string(seq));
    auto parsed = chain::parseSignedManifest(row->signedManifest);
    if (!parsed)
        return std::move(parsed).error().context("catalog manifest of device " + deviceId +
                                                 " seq " + std::to_string(seq));
    return *parsed;
}

Expected<std::vector<v1::SignedManifest>>
StoreSession::manifests(const std::string &deviceId, uint64_t first, uint64_t last)
{
    std::vector<v1::SignedManifest> out;
    for (uint64_t seq = first; seq <= last && seq != 0; ++seq) {
        auto m = manifest(deviceId, seq);
        if (!m) {
            if (m.error().code == Errc::NotFound)
                return Error(Errc::Chain, "the chain segment seq " + std::to_string(first) +
                                              ".." + std::to_string(last) + " of device " +
                                              chain::printableForMessage(deviceId) +
                                              " is incomplete in the catalog: seq " +
                                              std::to_string(seq) +
                                              " is missing; export clips from one contiguous "
                                              "run (see `bwc alarms` for the gap)");
            return std::move(m).error();
        }
        out.push_back(std::move(*m));
    }
    return out;
}

Expected<std::vector<v1::SignedManifest>>
StoreSession::precedingManifests(const std::string &deviceId, uint64_t seq)
{
    if (seq <= 1)
        return std::vector<v1::SignedManifest>();
    BWC_ASSIGN(present, catalog().manifestHash(deviceId, seq - 1));
    if (!present)
        return std::vector<v1::SignedManifest>();
    BWC_ASSIGN(start, catalog().runStart(deviceId, seq - 1));
    return manifests(deviceId, start, seq - 1);
}

Expected<Bytes> StoreSession::caDer(const std::string &overridePath)
{
    const bool fromConfig = overridePath.empty();
    const std::string path = fromConfig ? config_.config.ca_path() : overridePath;
    const std::string what = fromConfig ? "agency CA (ca_path in " + config_.path + ")" : "--ca";
    BWC_TRY(requireFile(what, path, "give the agency CA certificate (ca.pem of the agency PKI)"));
    BWC_ASSIGN(certs, crypto::readPemFile(path, "CERTIFICATE"));
    if (certs.empty())
        return Error(Errc::Format, what + " " + path + ": no CERTIFICATE block");
    return certs.front();
}

Expected<std::vector<Bytes>> StoreSession::crlsDer(const std::vector<std::string> &overridePaths)
{
    std::vector<std::string> paths = overridePaths;
    const bool fromConfig = paths.empty();
    if (fromConfig)
        paths.push_back(config_.config.crl_path());
    std::vector<Bytes> out;
    for (const std::string &path : paths) {
        const std::string what =
            fromConfig ? "agency CRL (crl_path in " + config_.path + ")" : "--crl";
        BWC_TRY(requireFile(what, path, "give the agency's current CRL (crl.pem)"));
        BWC_ASSIGN(crls, crypto::readPemFile(path, "X509 CRL"));
        out.insert(out.end(), crls.begin(), crls.end());
    }
    return out;
}

Expected<std::optional<crypto::P256KeyPair>>
StoreSession::evidenceKey(const std::string &overridePath)
{
    const std::string path = overridePath.empty() ? config_.config.aek_key_path() : overridePath;
    if (path.empty())
        return std::optional<crypto::P256KeyPair>();
    const std::string what =
        overridePath.empty() ? "agency evidence key (aek_key_path in " + config_.path + ")"
                             : "--key";
    BWC_TRY(requireFile(what, path, "give the agency evidence key (recipients/<name>.key)"));
    auto key = loadPrivateKey(*backend_, path);
    if (!key)
        return std::move(key).error().context(what);
    return std::optional<crypto::P256KeyPair>(std::move(*key));
}

Expected<DeviceCertChain> StoreSession::deviceCertChain(const std::string &deviceId,
                                                        const std::string &overridePath)
{
    DeviceCertChain out;
    BWC_ASSIGN(recorded, catalog().deviceCertSha256(deviceId));
    if (overridePath.empty() && recorded) {
        // The chain the device itself presented to the dock, kept in the catalog.
        BWC_ASSIGN(kept, catalog().deviceCertChain(*recorded));
        if (kept && !kept->empty()) {
            out.der = std::move(*kept);
            out.source = "catalog";
            out.note = "device certificate chain as the device presented it to the dock (leaf "
                       "SHA-256 " +
                       toHex(*recorded) + ")";
            return out;
        }
    }
    if (!overridePath.empty()) {
        BWC_TRY(requireFile("--cert", overridePath,
                            "give the device certificate chain (devices/<id>.pem of the agency "
                            "PKI)"));
        out.source = overridePath;
    } else {
        const std::string candidate =
            parentDirectory(config_.config.ca_path()) + "/devices/" + deviceId + ".pem";
        if (!chain::isPrintableDeviceId(deviceId) || deviceId.find('/') != std::string::npos ||
            !pathExists(candidate))
            return Error(Errc::NotFound,
                         "device " + chain::printableForMessage(deviceId) +
                             ": the catalog holds no certificate chain of it and there is none "
                             "at " +
                             candidate +
                             "; give the device's chain with --cert (devices/<id>.pem of the "
                             "agency PKI)");
        out.source = candidate;
    }
    BWC_ASSIGN(der, crypto::readPemFile(out.source, "CERTIFICATE"));
    if (der.empty())
        return Error(Errc::Format, out.source + ": no CERTIFICATE block; give the device "
                                                "certificate chain (PEM, leaf first)");
    out.der = std::move(der);

    // Compare with the fingerprint the dock recorded when the device offloaded.
    const crypto::Digest leafSha = backend_->sha256(out.der.front());
    if (!recorded)
        out.note = "device certificate " + out.source +
                   ": the catalog has no record of this device's certificate";
    else if (*recorded != Bytes(leafSha.begin(), leafSha.end()))
        out.note = "device certificate " + out.source + " (SHA-256 " + toHex(leafSha) +
                   ") is not the one the device last presented to the dock (SHA-256 " +
                   toHex(*recorded) + "); the certificate may have been re-issued";
    else
        out.note = "device certificate " + out.source + " (SHA-256 " + toHex(leafSha) +
                   ") is the one the device presented to the dock";
    return out;
}

Expected<std::vector<std::string>> StoreSession::custody(const store::ClipRow &clip)
{
    std::vector<std::string> lines;
    BWC_ASSIGN(receipts, catalog().receipts(clip.deviceId));
    for (const store::ReceiptRow &r : receipts) {
        if (clip.seq < r.firstSeq || clip.seq > r.lastSeq)
            continue;
        const crypto::Digest sha = backend_->sha256(r.signedReceipt);
        lines.push_back("receipt " + formatUtcMs(r.issuedUtcMs) + " by dock " + store_->dockId() +
                        ": device " + r.deviceId + " seq " + std::to_string(r.firstSeq) + ".." +
                        std::to_string(r.lastSeq) + ", head " + toHex(r.headSha256) +
                        ", receipt sha256 " + toHex(sha));
    }
    BWC_ASSIGN(gaps, catalog().gaps(clip.deviceId));
    for (const store::GapRow &g : gaps) {
        if (g.resumedSeq > clip.seq)
            continue;
        lines.push_back("chain gap " + formatUtcMs(g.utcMs) + ": device " + g.deviceId +
                        " seq " + std::to_string(g.firstMissingSeq) + ".." +
                        std::to_string(g.lastMissingSeq) +
                        " never reached the dock; accepted by " + g.acceptedBy + " (alarm #" +
                        std::to_string(g.alarmId) + ": " + g.reason + "), the chain resumes at seq " +
                        std::to_string(g.resumedSeq) + " (manifest " +
                        toHex(g.resumedManifestSha256) + ")");
    }
    BWC_ASSIGN(entries, store_->auditLog().entriesForClip(clip.uuid));
    for (const audit::StoredAuditEntry &e : entries)
        lines.push_back("audit " + audit::describeEntry(e.entry));
    return lines;
}

Expected<TempDirectory> TempDirectory::create(const std::string &near)
{
    std::string base;
    if (!near.empty()) {
        base = near;
        while (base.size() > 1 && base.back() == '/')
            base.pop_back();
    } else {
        const char *tmp = std::getenv("TMPDIR");
        base = std::string(tmp && *tmp ? tmp : "/tmp") + "/bwc";
    }
    std::string pattern = base + ".work-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr)
        return Error(Errc::Io, "cannot create a temporary directory " + pattern + ": " +
                                   errnoText(errno) + "; check that the folder is writable");
    return TempDirectory(buf.data());
}

TempDirectory::~TempDirectory()
{
    if (!path_.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
}

int reportError(Console &console, std::string_view command, const Error &error)
{
    console.err << formatError(command, error) << "\n";
    return kExitUsage;
}

Expected<store::ClipState> parseClipState(const std::string &text)
{
    for (store::ClipState s :
         {store::ClipState::Stored, store::ClipState::Quarantined, store::ClipState::Purged})
        if (text == store::clipStateName(s))
            return s;
    return Error(Errc::Usage,
                 "--state " + text + ": unknown state; use stored, quarantined or purged");
}

Expected<void> decryptClip(const crypto::Backend &backend, const std::string &clipPath,
                           const v1::Manifest &manifest, const crypto::P256KeyPair &key,
                           const std::string &outPath)
{
    BWC_ASSIGN(reader, container::ClipReader::open(backend, clipPath));
    container::ReadOptions options;
    options.decrypt = true;
    if (manifest.kind() == v1::MANIFEST_KIND_INTERRUPTED) {
        std::map<uint8_t, uint64_t> counts;
        for (const v1::StreamCount &c : manifest.streams())
            counts[uint8_t(c.stream_id())] = c.chunks();
        options.interruptedCounts = counts;
    }
    if (auto unlocked = reader->unlock(key); !unlocked) {
        if (unlocked.error().code == Errc::NotFound)
            return Error(Errc::NotFound, clipPath +
                                             ": the agency evidence key is not a recipient of "
                                             "this clip; configure the key the clip was sealed to");
        return std::move(unlocked).error().context(clipPath);
    }
    BWC_ASSIGN(file, createFile(outPath));
    options.sink = [&](uint8_t streamId, ByteView plaintext) -> Expected<void> {
        if (streamId != container::kMediaStreamId)
            return {};
        return file->append(plaintext);
    };
    BWC_ASSIGN(read, reader->read(options));
    BWC_TRY(file->sync());
    if (!chain::digestEquals(manifest.plaintext_sha256(), read.mediaPlaintextSha256))
        return Error(Errc::Auth, clipPath + ": decrypted media SHA-256 " +
                                     toHex(read.mediaPlaintextSha256) +
                                     " differs from the manifest's " +
                                     toHex(asBytes(manifest.plaintext_sha256())) +
                                     "; run `bwc verify` on the clip");
    return {};
}

} // namespace bwc::cli
