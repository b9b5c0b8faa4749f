#include "common/container/container.h"

#include <algorithm>
#include <array>
#include <set>

#include "common/container/clip_format.h"
#include "common/crypto/hpke.h"

namespace bwc::container {

namespace {

struct WriterStream {
    StreamSpec spec;
    std::unique_ptr<crypto::AesGcm> cipher;
    // Plaintext waiting for its chunk: allocated once at kMaxChunkPlaintext.
    SecretBytes pending;
    size_t pendingLen = 0;
    StreamTotals totals;
};

constexpr int16_t kNoStream = -1;

Error optionsError(const std::string &message)
{
    return Error(Errc::Config, "clip writer: " + message);
}

Expected<void> checkOptions(const crypto::Backend &backend, const WritableFile &file,
                            const WriterOptions &options)
{
    if (options.deviceId.empty())
        return optionsError("the device id is empty; every clip names the device that "
                            "recorded it");
    if (options.clipUuid == ClipUuid{})
        return optionsError("the clip uuid is all zero; generate one with newClipUuid()");
    if (options.streams.empty())
        return optionsError("no streams declared; a clip needs at least its media stream");
    std::set<uint8_t> ids;
    for (const StreamSpec &s : options.streams) {
        if (!ids.insert(s.id).second)
            return optionsError("stream id " + std::to_string(s.id) +
                                " is declared twice; stream ids must be unique");
        if (!v1::StreamType_IsValid(s.type))
            return optionsError("stream " + std::to_string(s.id) + " has unknown type " +
                                std::to_string(int(s.type)));
    }
    if (options.recipients.empty())
        return optionsError("no recipients: the data key would be lost and nobody could "
                            "open the clip; configure the agency evidence key");
    for (size_t i = 0; i < options.recipients.size(); ++i) {
        auto r = backend.p256CheckPoint(options.recipients[i]);
        if (!r)
            return Error(Errc::Crypto,
                         "clip writer: recipient " + std::to_string(i) + " (key " +
                             format::keyIdPrefix(crypto::p256KeyId(backend,
                                                                   options.recipients[i])) +
                             "...) is not a valid P-256 public key: " + r.error().message +
                             "; check the evidence key certificate");
    }
    if (file.size() != 0)
        return Error(Errc::Exists, file.path() + ": already holds " +
                                       std::to_string(file.size()) +
                                       " bytes; a clip is written into a new, empty file");
    return {};
}

} // namespace

struct ClipWriter::Impl {
    std::unique_ptr<WritableFile> file;
    v1::ClipHeader header;
    std::string uuidText;
    crypto::Digest headerSha256{};
    std::unique_ptr<crypto::Sha256> fileHash;
    std::unique_ptr<crypto::Sha256> mediaHash;
    std::vector<WriterStream> streams;
    std::array<int16_t, 256> streamIndex{};
    // One record (header, ciphertext, tag), reused for every chunk.
    Bytes record;
    uint64_t bytesWritten = 0;
    bool finished = false;
    // Set when a write failed: the file's tail is unknown, so nothing more may be added.
    bool broken = false;

    Error prefix(Error e) const { return std::move(e).context("clip " + uuidText); }

    Expected<void> usable(const char *what) const
    {
        if (broken)
            return Error(Errc::Io, "clip " + uuidText + ": cannot " + what +
                                       " after an earlier write error; the file ends at its "
                                       "last successful flush");
        return {};
    }

    Expected<void> writeBytes(ByteView data)
    {
        auto r = file->append(data);
        if (!r) {
            broken = true;
            return prefix(std::move(r).error());
        }
        fileHash->update(data);
        bytesWritten += data.size();
        return {};
    }

    Expected<void> writeChunk(WriterStream &s, ByteView plaintext, bool final)
    {
        const uint32_t length = uint32_t(plaintext.size() + crypto::kGcmTagLen);
        record[0] = s.spec.id;
        putU32(record.data() + 1, length);
        const auto nonce = format::chunkNonce(s.totals.chunks, final);
        const auto aad = format::chunkAad(headerSha256, s.spec.id, length);
        auto sealed = s.cipher->seal(nonce, aad, plaintext,
                                     MutableByteView(record.data() + kRecordHeaderLen, length));
        if (!sealed) {
            broken = true;
            return prefix(std::move(sealed).error().context(
                "sealing chunk " + std::to_string(s.totals.chunks) + " of stream " +
                std::to_string(s.spec.id)));
        }
        BWC_TRY(writeBytes(ByteView(record.data(), kRecordHeaderLen + length)));
        if (s.spec.id == kMediaStreamId)
            mediaHash->update(plaintext);
        s.totals.chunks++;
        s.totals.plaintextBytes += plaintext.size();
        s.totals.finalWritten = final;
        return {};
    }

    Expected<void> writePending(WriterStream &s, bool final)
    {
        auto r = writeChunk(s, ByteView(s.pending.data(), s.pendingLen), final);
        secureZero(s.pending.data(), s.pendingLen);
        s.pendingLen = 0;
        return r;
    }

    WriterStream *find(uint8_t id)
    {
        const int16_t i = streamIndex[id];
        return i == kNoStream ? nullptr : &streams[size_t(i)];
    }

    void dropKeys()
    {
        for (WriterStream &s : streams) {
            s.cipher.reset();
            s.pending.wipe();
            s.pendingLen = 0;
        }
    }
};

ClipWriter::ClipWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ClipWriter::~ClipWriter()
{
    if (impl_)
        impl_->dropKeys();
}

Expected<std::unique_ptr<ClipWriter>> ClipWriter::create(const crypto::Backend &backend,
                                                         std::unique_ptr<WritableFile> file,
                                                         const WriterOptions &options)
{
    if (!file)
        return Error(Errc::Internal, "clip writer: no file given");
    BWC_TRY(checkOptions(backend, *file, options));

    auto impl = std::make_unique<Impl>();
    impl->uuidText = uuidToString(options.clipUuid);

    SecretArray<format::kDekLen> dek;
    std::array<uint8_t, format::kStreamNonceLen> streamNonce{};
    if (auto r = backend.randomBytes(dek.span()); !r)
        return impl->prefix(std::move(r).error().context("generating the data key"));
    if (auto r = backend.randomBytes(streamNonce); !r)
        return impl->prefix(std::move(r).error().context("generating the stream nonce"));

    v1::ClipHeader &header = impl->header;
    header.set_clip_uuid(options.clipUuid.data(), options.clipUuid.size());
    header.set_device_id(options.deviceId);
    header.set_created_utc_ms(options.createdUtcMs);
    header.set_stream_nonce(streamNonce.data(), streamNonce.size());
    for (const StreamSpec &s : options.streams) {
        v1::StreamInfo *info = header.add_streams();
        info->set_id(s.id);
        info->set_type(s.type);
        info->set_content_type(s.contentType);
    }
    for (const crypto::P256Point &pub : options.recipients) {
        auto sealed = crypto::hpkeSealBase(backend, pub, asBytes(format::kDekInfo),
                                           options.clipUuid, dek.view());
        if (!sealed)
            return impl->prefix(std::move(sealed).error().context("wrapping the data key"));
        if (sealed->ciphertext.size() != format::kWrappedDekLen)
            return Error(Errc::Internal, "clip " + impl->uuidText + ": wrapped data key is " +
                                             std::to_string(sealed->ciphertext.size()) +
                                             " bytes, expected 48");
        const crypto::Digest keyId = crypto::p256KeyId(backend, pub);
        v1::Recipient *r = header.add_recipients();
        r->set_key_id(keyId.data(), keyId.size());
        r->set_hpke_enc(sealed->enc.data(), sealed->enc.size());
        r->set_wrapped_dek(sealed->ciphertext.data(), sealed->ciphertext.size());
    }

    std::string headerBytes;
    if (!header.SerializeToString(&headerBytes))
        return Error(Errc::Internal, "clip " + impl->uuidText + ": ClipHeader did not serialise");
    if (headerBytes.size() > kMaxHeaderLen)
        return Error(Errc::Config, "clip " + impl->uuidText + ": the header would be " +
                                       std::to_string(headerBytes.size()) +
                                       " bytes, more than the " + std::to_string(kMaxHeaderLen) +
                                       " allowed; use fewer recipients or streams");

    // Keys first, so that a failure leaves nothing on the file.
    impl->streamIndex.fill(kNoStream);
    impl->streams.reserve(options.streams.size());
    for (const StreamSpec &spec : options.streams) {
        auto cipher = format::streamCipher(backend, dek.view(), streamNonce, spec.id);
        if (!cipher)
            return impl->prefix(std::move(cipher).error());
        WriterStream s;
        s.spec = spec;
        s.cipher = std::move(*cipher);
        s.pending = SecretBytes(kMaxChunkPlaintext);
        impl->streamIndex[spec.id] = int16_t(impl->streams.size());
        impl->streams.push_back(std::move(s));
    }
    // The data key now lives only in the recipients' wrapped copies.
    secureZero(dek.data(), dek.size());

    impl->record.resize(kRecordHeaderLen + kMaxRecordLen);
    impl->fileHash = backend.newSha256();
    impl->mediaHash = backend.newSha256();
    impl->file = std::move(file);

    const auto fixed = format::encodeFixedHeader(uint32_t(headerBytes.size()));
    auto headerHash = backend.newSha256();
    headerHash->update(fixed);
    headerHash->update(asBytes(headerBytes));
    impl->headerSha256 = headerHash->finish();

    BWC_TRY(impl->writeBytes(fixed));
    BWC_TRY(impl->writeBytes(asBytes(headerBytes)));
    if (auto r = impl->file->sync(); !r) {
        impl->broken = true;
        return impl->prefix(std::move(r).error());
    }
    return std::unique_ptr<ClipWriter>(new ClipWriter(std::move(impl)));
}

Expected<void> ClipWriter::append(uint8_t streamId, ByteView data)
{
    Impl &d = *impl_;
    WriterStream *s = d.find(streamId);
    if (!s)
        return Error(Errc::Internal, "clip " + d.uuidText + ": append to stream " +
                                         std::to_string(streamId) +
                                         ", which this clip does not declare");
    if (d.finished || s->totals.finalWritten)
        return Error(Errc::Internal, "clip " + d.uuidText + ": append to stream " +
                                         std::to_string(streamId) +
                                         " after the clip was finished");
    BWC_TRY(d.usable("append"));

    while (!data.empty()) {
        if (s->pendingLen == 0 && data.size() >= kMaxChunkPlaintext) {
            // A whole chunk straight from the caller's buffer.
            BWC_TRY(d.writeChunk(*s, data.first(kMaxChunkPlaintext), false));
            data = data.subspan(kMaxChunkPlaintext);
            continue;
        }
        const size_t take = std::min(data.size(), kMaxChunkPlaintext - s->pendingLen);
        std::copy(data.begin(), data.begin() + ptrdiff_t(take), s->pending.data() + s->pendingLen);
        s->pendingLen += take;
        data = data.subspan(take);
        if (s->pendingLen == kMaxChunkPlaintext)
            BWC_TRY(d.writePending(*s, false));
    }
    return {};
}

Expected<WriterState> ClipWriter::flush()
{
    Impl &d = *impl_;
    BWC_TRY(d.usable("flush"));
    if (!d.finished) {
        for (WriterStream &s : d.streams) {
            if (s.pendingLen > 0)
                BWC_TRY(d.writePending(s, false));
        }
    }
    if (auto r = d.file->sync(); !r) {
        d.broken = true;
        return d.prefix(std::move(r).error());
    }
    return state();
}

Expected<WriterState> ClipWriter::finish()
{
    Impl &d = *impl_;
    if (d.finished)
        return Error(Errc::Internal, "clip " + d.uuidText + ": finish() called twice");
    BWC_TRY(d.usable("finish"));
    for (WriterStream &s : d.streams) {
        auto r = d.writePending(s, true);
        if (!r) {
            d.dropKeys();
            return r.error();
        }
    }
    d.finished = true;
    d.dropKeys();
    if (auto r = d.file->sync(); !r) {
        d.broken = true;
        return d.prefix(std::move(r).error());
    }
    return state();
}

WriterState ClipWriter::state() const
{
    const Impl &d = *impl_;
    WriterState st;
    for (const WriterStream &s : d.streams)
        st.streams[s.spec.id] = s.totals;
    st.ciphertextBytes = d.bytesWritten;
    st.ciphertextSha256 = d.fileHash->clone()->finish();
    st.headerSha256 = d.headerSha256;
    st.mediaPlaintextSha256 = d.mediaHash->clone()->finish();
    return st;
}

const crypto::Digest &ClipWriter::headerSha256() const
{
    return impl_->headerSha256;
}

const v1::ClipHeader &ClipWriter::header() const
{
    return impl_->header;
}

const std::string &ClipWriter::path() const
{
    return impl_->file->path();
}

} // namespace bwc::container
