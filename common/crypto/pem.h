#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/base/bytes.h"
#include "common/base/error.h"

namespace bwc::crypto {

struct PemBlock {
    std::string label; // "CERTIFICATE", "PRIVATE KEY", "X509 CRL", ...
    Bytes der;
};

// Every PEM block in `text`, in order. Errc::Format (naming `what` and the line) on a
// broken block; an empty result if there is none.
Expected<std::vector<PemBlock>> parsePem(std::string_view text, std::string_view what);
std::string toPem(std::string_view label, ByteView der);

std::string base64Encode(ByteView data);
std::optional<Bytes> base64Decode(std::string_view text);

// Reads a PEM file and returns the DER of every block with `label`; Errc::Format if
// there is none ("<path>: no CERTIFICATE block; is this a PEM certificate file?").
Expected<std::vector<Bytes>> readPemFile(const std::string &path, std::string_view label);

} // namespace bwc::crypto
