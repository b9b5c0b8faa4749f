#pragma once

// One recording, from the first byte to its signed manifest: the clip file (BWCCLIP, via
// the container writer), its checkpoint log "<uuid>.ckpt" (a signed checkpoint right
// after the header and then at every checkpoint() call), and at the end a CLIP manifest
// issued through the chain. Used by the camera's recorder and by `bwc seal`.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "bwc/v1/manifest.pb.h"
#include "common/base/bytes.h"
#include "common/base/error.h"
#include "common/base/file.h"
#include "common/chain/chain_state.h"
#include "common/chain/identity.h"
#include "common/container/container.h"
#include "common/crypto/crypto.h"

namespace bwc::chain
{

constexpr std::string_view kClipFileSuffix = ".bwcclip";
constexpr std::string_view kCheckpointFileSuffix = ".ckpt";

// Creates a new file for appending; tests substitute one that cuts the power.
using FileFactory = std::function<Expected<std::unique_ptr<WritableFile>>(const std::string &)>;

struct SessionOptions {
    // Where "<uuid>.bwcclip" and "<uuid>.ckpt" are created.
    std::string clipDir;
    // Streams and recipients. A zero clipUuid means "generate one"; deviceId is set from
    // the identity; a zero createdUtcMs means startUtcMs.
    container::WriterOptions writer;
    std::string officerId;
    v1::Trigger trigger = v1::TRIGGER_BUTTON;
    // Pre-record actually included at the start of the clip.
    uint32_t prerecordMs = 0;
    int64_t startUtcMs = 0;
    std::string fwVersion;
    // SHA-256 of the configuration in force (32 bytes), or empty.
    Bytes configSha256;
    v1::ClockSource clockSource = v1::CLOCK_SOURCE_UNKNOWN;
    uint32_t clockErrorMs = 0;
    // For TRIGGER_ROLLOVER: the clip this one continues.
    std::optional<container::ClipUuid> continuesClipUuid;
    // For TRIGGER_IMPORT: the original file name.
    std::string sourceName;
};

std::string clipFilePath(const std::string &clipDir, const container::ClipUuid &uuid);
std::string checkpointFilePath(const std::string &clipDir, const container::ClipUuid &uuid);

class ClipSession
{
public:
    // Creates the checkpoint log (first, so that boot recovery finds any clip file that
    // follows), then the clip file with its header, then writes checkpoint 0. The backend
    // and the identity must outlive the session.
    static Expected<std::unique_ptr<ClipSession>> create(const crypto::Backend &backend,
                                                         DeviceIdentity &identity,
                                                         const SessionOptions &options,
                                                         FileFactory factory = createFile);
    ~ClipSession();
    ClipSession(const ClipSession &) = delete;
    ClipSession &operator=(const ClipSession &) = delete;

    Expected<void> append(uint8_t streamId, ByteView data);
    // Flushes every partial chunk to the clip file (synced), then signs a checkpoint of
    // what is on the file and appends it to the log (synced).
    Expected<void> checkpoint(int64_t utcMs);
    // Writes the final chunks, issues the CLIP manifest through `chain`, then removes the
    // checkpoint log. After a successful seal the session accepts nothing more.
    Expected<v1::SignedManifest> seal(ChainState &chain, int64_t endUtcMs);

    const container::ClipUuid &clipUuid() const { return uuid_; }
    const std::string &clipPath() const { return clipPath_; }
    const std::string &checkpointPath() const { return checkpointPath_; }
    // Checkpoints written so far (checkpoint 0 included).
    uint64_t checkpointCount() const { return nextCheckpoint_; }
    bool sealed() const { return sealed_; }

private:
    ClipSession(const crypto::Backend &backend, DeviceIdentity &identity,
                const SessionOptions &options, const container::ClipUuid &uuid);
    Expected<void> usable() const;

    const crypto::Backend &backend_;
    DeviceIdentity &identity_;
    SessionOptions options_;
    container::ClipUuid uuid_;
    std::string clipPath_;
    std::string checkpointPath_;
    std::unique_ptr<WritableFile> checkpointFile_;
    std::unique_ptr<container::ClipWriter> writer_;
    uint64_t nextCheckpoint_ = 0;
    bool sealed_ = false;
    bool failed_ = false;
};

} // namespace bwc::chain
