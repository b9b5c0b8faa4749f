#include "dock/cli/commands.h"

namespace bwc::cli {

std::string toolVersion()
{
    return std::string("bwc ") + BWC_VERSION;
}

} // namespace bwc::cli
