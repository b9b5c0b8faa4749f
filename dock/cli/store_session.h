#pragma once

// What the evidence commands share: the dock's configuration, its identity (the key that
// signs the audit log), the opened evidence store, and the lookups every command needs
// (a clip by uuid, its manifest and chain, trust material, custody), each failing with
// an error that names the thing, the cause and what to do.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bwc/v1/manifest.pb.h"
#include "common/base/bytes.h"
#include "common/base/clock.h"
#include "common/base/error.h"
#include "common/crypto/crypto.h"
#include "dock/audit/audit_log.h"
#include "dock/cli/commands.h"
#include "dock/config/dock_config.h"
#include "dock/store/evidence_store.h"

namespace bwc::cli {

// A device certificate chain and where it came from (the store keeps only the SHA-256
// of the leaf each device last presented, in devices.cert_sha256).
struct DeviceCertChain {
    std::vector<Bytes> der; // leaf first
    std::string source;     // the file it was read from
    std::string note;       // a remark for the report, e.g. a fingerprint mismatch
};

class StoreSession
{
public:
    // Loads the dock config (args.dockConfig or the default), the dock identity, and opens
    // the store, which must exist (Errc::NotFound otherwise: commands never create one).
    static Expected<std::unique_ptr<StoreSession>> open(const StoreArgs &args,
                                                        const Clock &clock);

    StoreSession(const StoreSession &) = delete;
    StoreSession &operator=(const StoreSession &) = delete;
    ~StoreSession();

    store::EvidenceStore &store() { return *store_; }
    store::Catalog &catalog() { return store_->catalog(); }
    const dock::LoadedDockConfig &config() const { return config_; }
    const crypto::Backend &backend() const { return *backend_; }
    const Clock &clock() const { return clock_; }
    const std::string &actor() const { return actor_; }

    // Appends one entry in its own transaction and commits (an audited read).
    Expected<void> audit(const audit::AuditRecord &record);

    // A stored or purged clip by the uuid given on the command line.
    Expected<store::ClipRow> findClip(const std::string &uuidArgument);
    // The signed manifest the catalog keeps for (device, seq).
    Expected<v1::SignedManifest> manifest(const std::string &deviceId, uint64_t seq);
    // The manifests the catalog keeps for seq first..last, in order; Errc::Chain naming the
    // first one missing.
    Expected<std::vector<v1::SignedManifest>> manifests(const std::string &deviceId,
                                                        uint64_t first, uint64_t last);
    // The manifests before `seq` back to the start of the stored contiguous run (for the
    // chain check); empty when `seq` starts the run.
    Expected<std::vector<v1::SignedManifest>> precedingManifests(const std::string &deviceId,
                                                                 uint64_t seq);

    // The agency CA certificate and CRL named by the dock config (ca_path, crl_path), or
    // the files given (overrides) instead.
    Expected<Bytes> caDer(const std::string &overridePath = {});
    Expected<std::vector<Bytes>> crlsDer(const std::vector<std::string> &overridePaths = {});
    // The agency evidence key: `overridePath`, else aek_key_path, else nullopt.
    Expected<std::optional<crypto::P256KeyPair>> evidenceKey(const std::string &overridePath = {});
    // The device's certificate chain: `overridePath`, else devices/<id>.pem beside the
    // agency CA (the agency PKI's layout), else Errc::NotFound saying what to give.
    Expected<DeviceCertChain> deviceCertChain(const std::string &deviceId,
                                              const std::string &overridePath = {});

    // Custody of a clip: the receipts covering it and its audit entries, one line each.
    Expected<std::vector<std::string>> custody(const store::ClipRow &clip);

private:
    StoreSession(const Clock &clock, std::string actor, dock::LoadedDockConfig config,
                 std::unique_ptr<crypto::Backend> backend);

    const Clock &clock_;
    std::string actor_;
    dock::LoadedDockConfig config_;
    std::unique_ptr<crypto::Backend> backend_;
    std::unique_ptr<store::EvidenceStore> store_; // destroyed before the backend
};

// A temporary directory, removed with everything in it.
class TempDirectory
{
public:
    // Created beside `near` (a path whose folder must be writable), or in $TMPDIR when
    // `near` is empty.
    static Expected<TempDirectory> create(const std::string &near = {});
    TempDirectory(TempDirectory &&other) noexcept : path_(std::move(other.path_))
    {
        other.path_.clear();
    }
    TempDirectory &operator=(TempDirectory &&) = delete;
    TempDirectory(const TempDirectory &) = delete;
    TempDirectory &operator=(const TempDirectory &) = delete;
    ~TempDirectory();
    const std::string &path() const { return path_; }

private:
    explicit TempDirectory(std::string path) : path_(std::move(path)) {}
    std::string path_;
};

// "bwc <command>: <message>" on console.err; returns the exit code for the error
// (kExitUsage: every error before a check ran is unusable input).
int reportError(Console &console, std::string_view command, const Error &error);

// Clip state from --state: stored, quarantined or purged.
Expected<store::ClipState> parseClipState(const std::string &text);

// Decrypts the media stream of `clipPath` into `outPath` with the agency evidence key and
// checks it against the manifest's plaintext_sha256.
Expected<void> decryptClip(const crypto::Backend &backend, const std::string &clipPath,
                           const v1::Manifest &manifest, const crypto::P256KeyPair &key,
                           const std::string &outPath);

} // namespace bwc::cli
