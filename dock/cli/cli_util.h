#pragma once

// Pure helpers of the `bwc` tool: error text and exit codes, the files that travel with
// a clip, argument checks, and the metadata record framing used by `bwc seal`. Kept out
// of the command code so that they can be tested without running the binary.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/bytes.h"
#include "common/base/error.h"
#include "common/crypto/crypto.h"
#include "common/crypto/pem.h"

namespace bwc::cli {

// Exit codes of every command.
constexpr int kExitOk = 0;
constexpr int kExitCheckFailed = 1; // verification ran and a check failed
constexpr int kExitUsage = 2;       // bad command line or unusable input

constexpr std::string_view kClipSuffix = ".bwcclip";
constexpr std::string_view kManifestSuffix = ".bwcm";
constexpr std::string_view kCertChainSuffix = ".cert.pem";
constexpr std::string_view kBundleIndexName = "bundle.bwcb";

// "bwc <command>: <message>": the message already names the thing, the cause and what
// to do.
std::string formatError(std::string_view command, const Error &error);

// The files `bwc seal` writes next to a clip and `bwc verify` / `bwc open` look for.
struct ClipSiblings {
    std::string stem;         // "<dir>/<uuid>" (the clip path without ".bwcclip")
    std::string manifestPath; // "<dir>/<uuid>.bwcm"
    std::string certPath;     // "<dir>/<uuid>.cert.pem"
};
// Errc::Usage unless `clipPath` ends in ".bwcclip" with a non-empty name before it.
Expected<ClipSiblings> clipSiblings(const std::string &clipPath);
// Paths of the outputs of `bwc seal` in `outDir` for the clip `uuid` (text form).
ClipSiblings sealOutputs(const std::string &outDir, std::string_view uuid);

// "mbedtls" or "openssl"; Errc::Usage for anything else.
enum class BackendKind { Mbedtls, Openssl };
Expected<BackendKind> parseBackendName(std::string_view name);

// Checks a validity period given on the command line: 1 to 36500 days.
Expected<void> checkDays(std::string_view option, int days);

// Errc::NotFound unless `path` is an existing regular file: "<what> <path>: no such file;
// <hint>" (or "is a directory" / "is not a regular file").
Expected<void> requireFile(std::string_view what, const std::string &path, std::string_view hint);

// True when `path` is a directory holding bundle.bwcb.
bool isBundleDirectory(const std::string &path);

// The first private key ("PRIVATE KEY" or "EC PRIVATE KEY") of the PEM blocks; Errc::Format
// naming `what` when there is none.
Expected<Bytes> selectPrivateKeyDer(const std::vector<crypto::PemBlock> &blocks,
                                    std::string_view what);
// Reads a PEM private key file and parses it with `backend`.
Expected<crypto::P256KeyPair> loadPrivateKey(const crypto::Backend &backend,
                                             const std::string &path);


// "1.2 MiB" style size for people.
std::string humanBytes(uint64_t bytes);

// A clip uuid given on the command line: 32 hex digits or 8-4-4-4-12, either case.
// Returns the 16 raw bytes; nullopt for anything else.
std::optional<std::string> parseClipUuid(std::string_view text);
// The 16 raw bytes of a clip uuid as 8-4-4-4-12 lower-case hex ("-" when empty, the
// hex of whatever is there when it is not 16 bytes).
std::string formatClipUuid(std::string_view raw);

// What `bwc verify ARG` verifies: an existing file or directory, or a stored clip.
enum class VerifyTarget { Path, StoredClip };
// Errc::Usage naming the argument when it is neither an existing path nor a clip uuid.
Expected<VerifyTarget> classifyVerifyTarget(const std::string &arg);

// A time given on the command line, in UTC: "YYYY-MM-DD" (midnight),
// "YYYY-MM-DDTHH:MM[:SS[.mmm]][Z]" or with a space for the "T". Errc::Usage naming
// `option` otherwise.
Expected<int64_t> parseUtcArgument(std::string_view option, std::string_view text);

// The reason an audited change is made: Errc::Usage unless it has a non-blank character.
Expected<void> requireReason(std::string_view command, const std::string &reason);

// The name recorded as the actor of audit entries when --actor is not given: the login
// name of the session (getlogin), else the user of the real uid, else $USER.
std::string defaultActor();

// A JSON string literal: jsonQuote (common/base/json.h), which also replaces each byte of
// invalid UTF-8 with U+FFFD.
std::string jsonString(std::string_view text);

} // namespace bwc::cli
