#include "common/chain/checkpoint.h"

#include <algorithm>
#include <set>

#include "common/chain/manifest.h"

namespace bwc::chain
{

namespace
{

std::string clipName(const std::string &uuid)
{
    if (uuid.size() != kClipUuidLen)
        return "an unnamed clip";
    auto v = asBytes(uuid);
    std::string hex = toHex(v);
    return "clip " + hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
           hex.substr(16, 4) + "-" + hex.substr(20);
}

} // namespace

std::string describeCheckpoint(const v1::Checkpoint &checkpoint)
{
    return "checkpoint " + std::to_string(checkpoint.index()) + " of " +
           clipName(checkpoint.clip_uuid());
}

Expected<void> checkCheckpoint(const v1::Checkpoint &c)
{
    auto fail = [&](const std::string &what) {
        return Error(Errc::Format, describeCheckpoint(c) + ": " + what +
                                       " (checkpoint malformed or written by an incompatible "
                                       "version)");
    };
    auto sized = [&](const std::string &field, const std::string &value,
                     size_t want) -> std::optional<Error> {
        if (value.size() == want)
            return std::nullopt;
        return fail(field + " is " + std::to_string(value.size()) + " bytes, expected " +
                    std::to_string(want));
    };
    if (auto e = sized("clip_uuid", c.clip_uuid(), kClipUuidLen))
        return *e;
    if (!isPrintableDeviceId(c.device_id()))
        return fail("device_id is empty, too long or not printable");
    if (auto e = sized("ciphertext_sha256", c.ciphertext_sha256(), crypto::kSha256Len))
        return *e;
    if (auto e = sized("header_sha256", c.header_sha256(), crypto::kSha256Len))
        return *e;
    if (auto e = sized("plaintext_sha256", c.plaintext_sha256(), crypto::kSha256Len))
        return *e;
    if (c.streams_size() == 0)
        return fail("streams is empty; a checkpoint counts the chunks of every stream");
    std::set<uint32_t> seen;
    for (const auto &s : c.streams()) {
        if (s.stream_id() > 255 || !seen.insert(s.stream_id()).second)
            return fail("streams names stream_id " + std::to_string(s.stream_id()) +
                        " more than once or out of range");
    }
    return {};
}

Expected<v1::SignedCheckpoint> signCheckpoint(const crypto::Backend &backend,
                                              const DeviceIdentity &identity,
                                              const v1::Checkpoint &checkpoint)
{
    if (checkpoint.device_id() != identity.id())
        return Error(Errc::Internal, describeCheckpoint(checkpoint) +
                                         ": refusing to sign it with the key of device " +
                                         identity.id());
    BWC_TRY(checkCheckpoint(checkpoint));
    std::string bytes;
    if (!checkpoint.SerializeToString(&bytes) || bytes.size() + 256 > kMaxSignedCheckpointBytes)
        return Error(Errc::Internal, describeCheckpoint(checkpoint) + ": serialisation failed");
    auto signature = identity.signDigest(backend.sha256(asBytes(bytes)));
    if (!signature)
        return std::move(signature).error().context(describeCheckpoint(checkpoint));
    v1::SignedCheckpoint out;
    out.set_checkpoint(std::move(bytes));
    out.set_signature(std::string(signature->begin(), signature->end()));
    return out;
}

Expected<v1::Checkpoint> verifyCheckpoint(const crypto::Backend &backend,
                                          const crypto::P256Point &signer,
                                          const v1::SignedCheckpoint &signedCheckpoint)
{
    v1::Checkpoint c;
    if (signedCheckpoint.checkpoint().empty() ||
        signedCheckpoint.checkpoint().size() > kMaxSignedCheckpointBytes ||
        !c.ParseFromString(signedCheckpoint.checkpoint()))
        return Error(Errc::Format, "checkpoint: the signed bytes are not a Checkpoint protobuf "
                                   "(corrupted, or not a checkpoint)");
    if (signedCheckpoint.signature().empty())
        return Error(Errc::Format, describeCheckpoint(c) + ": the signature is missing");
    auto r =
        backend.ecdsaVerifyDigest(signer, backend.sha256(asBytes(signedCheckpoint.checkpoint())),
                                  asBytes(signedCheckpoint.signature()));
    if (!r) {
        if (r.error().code == Errc::Auth)
            return Error(Errc::Auth, describeCheckpoint(c) +
                                         ": signature does not verify with the device key (the "
                                         "checkpoint was altered, or signed by another key)");
        return std::move(r).error().context(describeCheckpoint(c) + ": signature");
    }
    BWC_TRY(checkCheckpoint(c));
    return c;
}

Expected<void> appendCheckpoint(WritableFile &file, const v1::SignedCheckpoint &signedCheckpoint)
{
    std::string bytes = signedCheckpoint.SerializeAsString();
    if (bytes.empty() || bytes.size() > kMaxSignedCheckpointBytes)
        return Error(Errc::Internal, file.path() + ": a checkpoint record of " +
                                         std::to_string(bytes.size()) + " bytes is out of range");
    // One write for the length and the record, so that a torn write leaves a short
    // record that readers recognise as a torn tail.
    Bytes record(kCheckpointRecordHeaderLen + bytes.size());
    putU32(record.data(), uint32_t(bytes.size()));
    std::copy(bytes.begin(), bytes.end(), record.begin() + kCheckpointRecordHeaderLen);
    BWC_TRY(file.append(record));
    return file.sync();
}

CheckpointLogScan scanCheckpointLog(ByteView data, const std::string &what)
{
    CheckpointLogScan scan;
    size_t off = 0;
    size_t index = 0;
    auto allZero = [&](size_t from) {
        return std::all_of(data.begin() + ptrdiff_t(from), data.end(),
                           [](uint8_t b) { return b == 0; });
    };
    while (off < data.size()) {
        size_t remaining = data.size() - off;
        if (remaining < kCheckpointRecordHeaderLen) {
            scan.log.tornBytes = remaining;
            break;
        }
        uint32_t len = getU32(data.data() + off);
        if (len == 0 || len > kMaxSignedCheckpointBytes) {
            // A power cut may leave a zero-filled tail (the size grew, the data did not).
            if (allZero(off)) {
                scan.log.tornBytes = remaining;
                break;
            }
            scan.corruption =
                Error(Errc::Format, what + ": checkpoint record " + std::to_string(index) +
                                        " at offset " + std::to_string(off) + " declares " +
                                        std::to_string(len) +
                                        " bytes (the log was altered or the storage is "
                                        "failing)");
            break;
        }
        if (remaining - kCheckpointRecordHeaderLen < len) {
            scan.log.tornBytes = remaining;
            break;
        }
        v1::SignedCheckpoint record;
        if (!record.ParseFromArray(data.data() + off + kCheckpointRecordHeaderLen, int(len)) ||
            record.checkpoint().empty() || record.signature().empty()) {
            scan.corruption =
                Error(Errc::Format, what + ": checkpoint record " + std::to_string(index) +
                                        " at offset " + std::to_string(off) +
                                        " is not a signed checkpoint (the log was altered or "
                                        "the storage is failing)");
            break;
        }
        scan.log.records.push_back(std::move(record));
        off += kCheckpointRecordHeaderLen + len;
        scan.log.validBytes = off;
        ++index;
    }
    return scan;
}

Expected<CheckpointLog> parseCheckpointLog(ByteView data, const std::string &what)
{
    CheckpointLogScan scan = scanCheckpointLog(data, what);
    if (scan.corruption)
        return std::move(*scan.corruption);
    return std::move(scan.log);
}

Expected<CheckpointLog> readCheckpointLog(const std::string &path)
{
    // One record per second of recording: four hours fit comfortably.
    BWC_ASSIGN(data, readFile(path, uint64_t(256) << 20));
    return parseCheckpointLog(data, path);
}

} // namespace bwc::chain
