// `bwc open`: decrypts the media stream of a clip for a holder of the agency evidence key.

#include "dock/cli/commands.h"

#include <cerrno>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <unistd.h>

#include "common/base/file.h"
#include "common/chain/manifest.h"
#include "common/container/container.h"
#include "dock/cli/cli_util.h"

namespace bwc::cli {

namespace {

constexpr std::string_view kCommand = "open";

struct Opened {
    uint64_t bytes = 0;
    std::string sha256;
    bool manifestChecked = false;
    std::string manifestPath;
    bool interrupted = false;
};

// Removes the temporary output unless released.
class TempOutput
{
public:
    explicit TempOutput(std::string path) : path_(std::move(path)) {}
    TempOutput(const TempOutput &) = delete;
    TempOutput &operator=(const TempOutput &) = delete;
    ~TempOutput()
    {
        if (!path_.empty())
            ::unlink(path_.c_str());
    }
    void release() { path_.clear(); }

private:
    std::string path_;
};

Expected<Opened> openClip(const OpenArgs &args)
{
    BWC_TRY(requireFile("", args.clip, "give the clip file (<uuid>.bwcclip)"));
    BWC_TRY(requireFile("--key", args.key,
                        "give the agency evidence key (recipients/<name>.key of the agency PKI)"));
    if (args.out.empty())
        return Error(Errc::Usage, "--out: no output file given");
    if (pathExists(args.out))
        return Error(Errc::Exists,
                     "--out " + args.out + ": already exists; use another --out or remove it");
    const std::string tmpPath = args.out + ".tmp";
    if (pathExists(tmpPath))
        return Error(Errc::Exists, tmpPath + ": already exists (left by an earlier run?); "
                                             "remove it or use another --out");

    Opened result;
    std::string manifestPath = args.manifest;
    if (manifestPath.empty()) {
        auto siblings = clipSiblings(args.clip);
        if (siblings && pathExists(siblings->manifestPath))
            manifestPath = siblings->manifestPath;
    } else {
        BWC_TRY(requireFile("--manifest", manifestPath,
                            "give the clip's manifest (<uuid>.bwcm) or leave --manifest out"));
    }

    auto backend = crypto::makeOpensslBackend();
    BWC_ASSIGN(key, loadPrivateKey(*backend, args.key));
    BWC_ASSIGN(reader, container::ClipReader::open(*backend, args.clip));

    container::ReadOptions options;
    options.decrypt = true;
    std::optional<v1::Manifest> manifest;
    if (!manifestPath.empty()) {
        BWC_ASSIGN(signedManifest, chain::readManifestFile(manifestPath));
        BWC_ASSIGN(parsed, chain::parseManifest(signedManifest));
        const container::ClipUuid uuid = reader->clipUuid();
        if (parsed.clip_uuid() != std::string(uuid.begin(), uuid.end()))
            return Error(Errc::Usage, manifestPath + ": is the manifest of another clip, not of " +
                                          container::uuidToString(uuid) +
                                          "; give the clip's own manifest with --manifest");
        if (parsed.kind() == v1::MANIFEST_KIND_INTERRUPTED) {
            std::map<uint8_t, uint64_t> counts;
            for (const v1::StreamCount &c : parsed.streams())
                counts[uint8_t(c.stream_id())] = c.chunks();
            options.interruptedCounts = counts;
            result.interrupted = true;
        }
        manifest = parsed;
        result.manifestPath = manifestPath;
    }

    if (auto unlocked = reader->unlock(key); !unlocked) {
        if (unlocked.error().code == Errc::NotFound)
            return Error(Errc::NotFound, args.clip + ": --key " + args.key +
                                             " is not a recipient of this clip; use the "
                                             "agency evidence key the clip was sealed to");
        return std::move(unlocked).error().context(args.clip);
    }

    BWC_ASSIGN(file, createFile(tmpPath));
    TempOutput guard(tmpPath);
    options.sink = [&](uint8_t streamId, ByteView plaintext) -> Expected<void> {
        if (streamId != container::kMediaStreamId)
            return {};
        return file->append(plaintext);
    };
    const bool tty = ::isatty(STDERR_FILENO) == 1;
    if (tty) {
        options.progress = [](uint64_t done, uint64_t total) {
            if (total > 0)
                std::cerr << "\rdecrypting: " << done * 100 / total << " %" << std::flush;
        };
    }
    auto read = reader->read(options);
    if (tty)
        std::cerr << "\n";
    if (!read)
        return std::move(read).error().context("nothing written");
    BWC_TRY(file->sync());
    result.bytes = file->size();
    result.sha256 = toHex(read->mediaPlaintextSha256);
    if (manifest) {
        if (!chain::digestEquals(manifest->plaintext_sha256(), read->mediaPlaintextSha256))
            return Error(Errc::Auth, args.clip + ": decrypted media SHA-256 " + result.sha256 +
                                         " differs from the manifest's " +
                                         toHex(asBytes(manifest->plaintext_sha256())) +
                                         "; nothing written; run `bwc verify` on the clip");
        result.manifestChecked = true;
    }
    file.reset();
    if (::rename(tmpPath.c_str(), args.out.c_str()) != 0)
        return Error(Errc::Io,
                     args.out + ": rename from " + tmpPath + " failed: " + errnoText(errno));
    guard.release();
    BWC_TRY(fsyncDirectory(parentDirectory(args.out)));
    return result;
}

} // namespace

int runOpen(const OpenArgs &args)
{
    auto opened = openClip(args);
    if (!opened) {
        std::cerr << formatError(kCommand, opened.error()) << "\n";
        return opened.error().code == Errc::Auth ? kExitCheckFailed : kExitUsage;
    }
    std::cout << "wrote " << args.out << "\n"
              << "  bytes:            " << opened->bytes << "\n"
              << "  plaintext sha256: " << opened->sha256 << "\n";
    if (opened->manifestChecked)
        std::cout << "  matches the plaintext_sha256 of " << opened->manifestPath
                  << (opened->interrupted ? " (INTERRUPTED clip)" : "") << "\n";
    else
        std::cout << "  no manifest found: the plaintext hash was not compared; give "
                     "--manifest to check it\n";
    return kExitOk;
}

} // namespace bwc::cli
