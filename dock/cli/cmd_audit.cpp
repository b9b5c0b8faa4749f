// `bwc audit`: prints the dock's audit log and verifies its whole hash chain and every
// signature.

#include "dock/cli/commands.h"

#include <ostream>

#include "common/base/clock.h"
#include "dock/cli/cli_util.h"
#include "dock/cli/store_session.h"

namespace bwc::cli {

int runAudit(const AuditArgs &args, Console &console)
{
    constexpr std::string_view kCommand = "audit";
    if (args.fromSeq == 0)
        return reportError(console, kCommand,
                           Error(Errc::Usage, "--from 0: audit entries are numbered from 1"));
    auto session = StoreSession::open(args, console.clock);
    if (!session)
        return reportError(console, kCommand, session.error());
    StoreSession &s = **session;

    // The listing and the check are independent: a tampered entry must not hide the rest.
    auto entries = s.store().auditLog().entries(args.fromSeq);
    auto verified = audit::verifyAuditChain(s.catalog().database(), s.backend(),
                                            s.store().auditLog().publicKey());
    const std::string verdict =
        verified ? "chain of " + std::to_string(*verified) + " entries verified"
                 : "chain broken: " + verified.error().message;
    const std::string reason = args.reason.empty() ? "audit log review" : args.reason;
    auto recorded = s.audit(audit::AuditRecord{s.actor(), "audit.verify", reason, {}, 0, {},
                                               verified ? "ok" : "FAIL", verdict});

    std::ostream &out = console.out;
    if (args.json) {
        out << "{\n  \"entries\": [";
        if (entries) {
            for (size_t i = 0; i < entries->size(); ++i) {
                const v1::AuditEntry &e = (*entries)[i].entry;
                out << (i ? "," : "") << "\n    {\"seq\": " << e.seq()
                    << ", \"utc\": " << jsonString(formatUtcMs(e.utc_ms()))
                    << ", \"actor\": " << jsonString(e.actor())
                    << ", \"action\": " << jsonString(e.action())
                    << ", \"reason\": " << jsonString(e.reason())
                    << ", \"device_id\": " << jsonString(e.device_id())
                    << ", \"manifest_seq\": " << e.manifest_seq()
                    << ", \"clip_uuid\": " << jsonString(e.clip_uuid().empty()
                                                             ? std::string()
                                                             : formatClipUuid(e.clip_uuid()))
                    << ", \"result\": " << jsonString(e.result())
                    << ", \"detail\": " << jsonString(e.detail()) << "}";
            }
            out << (entries->empty() ? "" : "\n  ");
        }
        out << "],\n  \"chain_verified\": " << (verified ? "true" : "false")
            << ",\n  \"entries_checked\": " << (verified ? *verified : 0)
            << ",\n  \"error\": " << (verified ? "null" : jsonString(verified.error().message))
            << "\n}\n";
    } else if (entries) {
        for (const audit::StoredAuditEntry &e : *entries)
            out << audit::describeEntry(e.entry) << "\n";
    }
    if (!entries)
        console.err << formatError(kCommand, entries.error().context("listing the entries"))
                    << "\n";
    if (!recorded)
        console.err << formatError(kCommand, recorded.error().context("recording this check"))
                    << "\n";
    if (!verified) {
        console.err << formatError(
                           kCommand,
                           Error(verified.error().code,
                                 "the audit log of " + s.store().root() +
                                     " does not verify: " + verified.error().message +
                                     "; the catalog database was altered outside the dock: keep "
                                     "a copy of catalog.db for examination and report it"))
                    << "\n";
        return kExitCheckFailed;
    }
    if (!args.json)
        out << "audit chain: " << *verified << " entries, hash chain and dock signatures verified\n";
    return entries && recorded ? kExitOk : kExitUsage;
}

} // namespace bwc::cli
