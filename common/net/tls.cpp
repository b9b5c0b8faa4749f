#include "common/net/tls.h"

#include <algorithm>
#include <array>
#include <string>

#include "common/crypto/pem.h"
#include "common/net/socket.h"

namespace bwc::net {

Expected<TlsConfig> loadTlsConfig(const std::string &certChainPath, const std::string &keyPath,
                                  const std::string &caPath, const std::string &crlPath)
{
    TlsConfig config;
    BWC_ASSIGN(chain, crypto::readPemFile(certChainPath, "CERTIFICATE"));
    config.ownCertChainDer = std::move(chain);
    BWC_ASSIGN(keys, crypto::readPemFile(keyPath, "PRIVATE KEY"));
    if (keys.size() != 1)
        return Error(Errc::Format, keyPath + ": holds " + std::to_string(keys.size()) +
                                       " private keys; expected exactly one");
    config.ownKeyDer = SecretBytes(keys[0]);
    secureZero(keys[0].data(), keys[0].size());
    BWC_ASSIGN(anchors, crypto::readPemFile(caPath, "CERTIFICATE"));
    config.trustAnchorsDer = std::move(anchors);
    BWC_ASSIGN(crls, crypto::readPemFile(crlPath, "X509 CRL"));
    config.crlsDer = std::move(crls);
    return config;
}

Expected<void> sendFrame(TlsStream &stream, const v1::Frame &frame, int timeoutMs)
{
    BWC_TRY(checkFrame(frame));
    const Bytes wire = encodeFrame(frame);
    return stream.writeAll(wire, timeoutMs);
}

Expected<v1::Frame> receiveFrame(TlsStream &stream, FrameDecoder &decoder, int timeoutMs)
{
    const Deadline deadline(timeoutMs);
    for (;;) {
        BWC_ASSIGN(frame, decoder.next());
        if (frame)
            return std::move(*frame);
        // Straight into the decoder's buffer: up to the rest of the frame, never into the
        // next one.
        MutableByteView room = decoder.space(kMaxFrameBytes);
        const int wait = deadline.remainingMs();
        if (wait == 0)
            return Error(Errc::Io, "offload stream: timed out after " + std::to_string(timeoutMs) +
                                       " ms waiting for a frame; the peer stalled");
        auto got = stream.read(room, wait);
        if (!got)
            return std::move(got).error();
        const size_t taken = decoder.commit(*got);
        if (taken != *got)
            return Error(Errc::Internal, "frame decoder took " + std::to_string(taken) + " of " +
                                             std::to_string(*got) + " bytes it asked for");
    }
}

} // namespace bwc::net
