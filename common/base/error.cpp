#include "common/base/error.h"

namespace bwc {

std::string_view errcName(Errc code)
{
    switch (code) {
    case Errc::Io: return "io";
    case Errc::NotFound: return "not-found";
    case Errc::Exists: return "exists";
    case Errc::NoSpace: return "no-space";
    case Errc::Format: return "format";
    case Errc::Auth: return "authentication";
    case Errc::Crypto: return "crypto";
    case Errc::Cert: return "certificate";
    case Errc::Chain: return "chain";
    case Errc::Config: return "config";
    case Errc::Usage: return "usage";
    case Errc::Protocol: return "protocol";
    case Errc::Device: return "device";
    case Errc::Internal: return "internal";
    }
    return "unknown";
}

Error Error::context(std::string_view prefix) const &
{
    return Error(code, std::string(prefix) + ": " + message);
}

Error Error::context(std::string_view prefix) &&
{
    message.insert(0, std::string(prefix) + ": ");
    return std::move(*this);
}

} // namespace bwc
