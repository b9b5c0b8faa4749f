#pragma once

// Helpers shared by the verification, bundle and report code of bwc_verify.

#include <cstdint>
#include <optional>
#include <string>

#include "common/base/bytes.h"
#include "common/crypto/crypto.h"
#include "dock/verify/verify.h"

namespace bwc::verify::detail {

// verifyClip, with an explanation of why the device certificate chain could not be
// loaded (reported in the "certificate" check instead of a generic message).
ClipReport verifyClipWith(const crypto::Backend &backend, const ClipInputs &inputs,
                          const std::optional<std::string> &certLoadError);

// The CRL number extension of a DER CRL, if it has one that parses.
std::optional<uint64_t> crlNumber(ByteView crlDer);

// A name from a protobuf enum without its prefix: "MANIFEST_KIND_CLIP" -> "CLIP".
std::string stripPrefix(const std::string &name, std::string_view prefix);

} // namespace bwc::verify::detail
