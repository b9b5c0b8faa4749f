#include "common/chain/clip_session.h"

#include <algorithm>

#include "common/base/log.h"
#include "common/chain/checkpoint.h"
#include "common/chain/dir_util.h"
#include "common/chain/manifest.h"

namespace bwc::chain
{

std::string clipFilePath(const std::string &clipDir, const container::ClipUuid &uuid)
{
    return clipDir + "/" + container::uuidToString(uuid) + std::string(kClipFileSuffix);
}

std::string checkpointFilePath(const std::string &clipDir, const container::ClipUuid &uuid)
{
    return clipDir + "/" + container::uuidToString(uuid) + std::string(kCheckpointFileSuffix);
}

namespace
{

bool isZero(const container::ClipUuid &uuid)
{
    return std::all_of(uuid.begin(), uuid.end(), [](uint8_t b) { return b == 0; });
}

std::string bytesString(ByteView b)
{
    return std::string(asChars(b));
}

// One count per stream of the header, in header order (zero for a stream with no chunk
// on the file yet).
template <typename Message>
void addStreamCounts(Message &out, const v1::ClipHeader &header,
                     const container::WriterState &state)
{
    for (const auto &info : header.streams()) {
        auto *count = out.add_streams();
        count->set_stream_id(info.id());
        auto it = state.streams.find(uint8_t(info.id()));
        if (it != state.streams.end()) {
            count->set_chunks(it->second.chunks);
            count->set_plaintext_bytes(it->second.plaintextBytes);
        }
    }
}

} // namespace

ClipSession::ClipSession(const crypto::Backend &backend, DeviceIdentity &identity,
                         const SessionOptions &options, const container::ClipUuid &uuid)
    : backend_(backend), identity_(identity), options_(options), uuid_(uuid),
      clipPath_(clipFilePath(options.clipDir, uuid)),
      checkpointPath_(checkpointFilePath(options.clipDir, uuid))
{
}

ClipSession::~ClipSession() = default;

Expected<std::unique_ptr<ClipSession>> ClipSession::create(const crypto::Backend &backend,
                                                           DeviceIdentity &identity,
                                                           const SessionOptions &options,
                                                           FileFactory factory)
{
    if (options.clipDir.empty())
        return Error(Errc::Config, "recording: no clip directory given");
    if (!options.configSha256.empty() && options.configSha256.size() != crypto::kSha256Len)
        return Error(Errc::Config, "recording: the configuration hash must be 32 bytes");

    container::ClipUuid uuid = options.writer.clipUuid;
    if (isZero(uuid)) {
        BWC_ASSIGN(fresh, container::newClipUuid(backend));
        uuid = fresh;
    }
    std::unique_ptr<ClipSession> session(new ClipSession(backend, identity, options, uuid));
    // The log first: a clip file is never on flash without the log that recovery looks for.
    BWC_ASSIGN(ckpt, factory(session->checkpointPath_));
    session->checkpointFile_ = std::move(ckpt);

    // A refusal that is not a write error (bad options, no usable recipient key) leaves
    // nothing worth recovering: the files are removed. After a write error they stay for
    // boot recovery, as they would after a power cut.
    auto discard = [&](Error e) -> Error {
        if (e.code == Errc::Io || e.code == Errc::NoSpace)
            return e;
        session->checkpointFile_.reset();
        for (const std::string *path : {&session->clipPath_, &session->checkpointPath_}) {
            auto removed = removeFile(*path);
            if (!removed && removed.error().code != Errc::NotFound)
                log::warn(removed.error().message);
        }
        (void)fsyncDirectory(options.clipDir);
        return e;
    };
    auto clipFile = factory(session->clipPath_);
    if (!clipFile)
        return discard(std::move(clipFile).error());

    container::WriterOptions writerOptions = options.writer;
    writerOptions.clipUuid = uuid;
    writerOptions.deviceId = identity.id();
    if (writerOptions.createdUtcMs == 0)
        writerOptions.createdUtcMs = options.startUtcMs;
    auto writer = container::ClipWriter::create(backend, std::move(*clipFile), writerOptions);
    if (!writer)
        return discard(std::move(writer).error());
    session->writer_ = std::move(*writer);

    BWC_TRY(session->checkpoint(options.startUtcMs));
    return session;
}

Expected<void> ClipSession::usable() const
{
    if (sealed_)
        return Error(Errc::Internal, "clip " + container::uuidToString(uuid_) + ": already sealed");
    if (failed_)
        return Error(Errc::Io, "clip " + container::uuidToString(uuid_) +
                                   ": an earlier write failed, so the clip takes no more data; "
                                   "it is recovered up to its last checkpoint at the next boot");
    return {};
}

Expected<void> ClipSession::append(uint8_t streamId, ByteView data)
{
    BWC_TRY(usable());
    auto r = writer_->append(streamId, data);
    if (!r)
        failed_ = true;
    return r;
}

Expected<void> ClipSession::checkpoint(int64_t utcMs)
{
    BWC_TRY(usable());
    auto state = writer_->flush();
    if (!state) {
        failed_ = true;
        return std::move(state).error();
    }
    v1::Checkpoint c;
    c.set_clip_uuid(bytesString(uuid_));
    c.set_device_id(identity_.id());
    c.set_index(nextCheckpoint_);
    addStreamCounts(c, writer_->header(), *state);
    c.set_ciphertext_bytes(state->ciphertextBytes);
    c.set_ciphertext_sha256(digestString(state->ciphertextSha256));
    c.set_header_sha256(digestString(state->headerSha256));
    c.set_utc_ms(utcMs);
    c.set_plaintext_sha256(digestString(state->mediaPlaintextSha256));
    c.set_start_utc_ms(options_.startUtcMs);
    c.set_officer_id(options_.officerId);
    c.set_prerecord_ms(options_.prerecordMs);
    c.set_trigger(options_.trigger);

    auto signedCheckpoint = signCheckpoint(backend_, identity_, c);
    if (!signedCheckpoint) {
        failed_ = true;
        return std::move(signedCheckpoint).error();
    }
    auto r = appendCheckpoint(*checkpointFile_, *signedCheckpoint);
    if (!r) {
        failed_ = true;
        return r;
    }
    ++nextCheckpoint_;
    return {};
}

Expected<v1::SignedManifest> ClipSession::seal(ChainState &chain, int64_t endUtcMs)
{
    BWC_TRY(usable());
    const std::string what = "clip " + container::uuidToString(uuid_);
    auto state = writer_->finish();
    if (!state) {
        failed_ = true;
        return std::move(state).error();
    }

    v1::Manifest m;
    m.set_kind(v1::MANIFEST_KIND_CLIP);
    m.set_fw_version(options_.fwVersion);
    m.set_config_sha256(bytesString(options_.configSha256));
    m.set_clock_source(options_.clockSource);
    m.set_clock_error_ms(options_.clockErrorMs);
    m.set_clip_uuid(bytesString(uuid_));
    m.set_header_sha256(digestString(state->headerSha256));
    addStreamCounts(m, writer_->header(), *state);
    m.set_ciphertext_sha256(digestString(state->ciphertextSha256));
    m.set_ciphertext_bytes(state->ciphertextBytes);
    m.set_plaintext_sha256(digestString(state->mediaPlaintextSha256));
    m.set_officer_id(options_.officerId);
    m.set_start_utc_ms(options_.startUtcMs);
    m.set_end_utc_ms(endUtcMs);
    m.set_prerecord_ms(options_.prerecordMs);
    m.set_trigger(options_.trigger);
    if (options_.continuesClipUuid)
        m.set_continues_clip_uuid(bytesString(*options_.continuesClipUuid));
    m.set_source_name(options_.sourceName);

    auto sm = chain.issue(std::move(m));
    if (!sm) {
        failed_ = true;
        return std::move(sm).error().context(what);
    }
    sealed_ = true;

    // The manifest is durable: the log has served its purpose. Should removing it fail,
    // boot recovery finds the manifest for this clip and removes the log then.
    checkpointFile_.reset();
    auto removed = removeFile(checkpointPath_);
    if (removed)
        removed = fsyncDirectory(options_.clipDir);
    if (!removed)
        log::warn(what + ": sealed as seq " + std::to_string(chain.head().seq()) +
                  ", but its checkpoint log could not be removed (" + removed.error().message +
                  "); boot recovery removes it");
    return sm;
}

} // namespace bwc::chain
