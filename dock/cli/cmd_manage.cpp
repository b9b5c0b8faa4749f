// The audited changes of the evidence store: officer assignment, categories, holds,
// alarms and the retention run (purge = crypto-erase, manifest kept as tombstone).

#include "dock/cli/commands.h"

#include <ostream>

#include "common/base/clock.h"
#include "dock/cli/cli_util.h"
#include "dock/cli/store_session.h"

namespace bwc::cli {

namespace {

// --reason is checked before the store is opened, so a missing reason changes nothing.
Expected<std::unique_ptr<StoreSession>> openForChange(std::string_view command,
                                                      const StoreArgs &args, Console &console)
{
    BWC_TRY(requireReason(command, args.reason));
    return StoreSession::open(args, console.clock);
}

// The store for a command on one alarm, once its id is plausible.
Expected<std::unique_ptr<StoreSession>> openForAlarm(std::string_view command, int64_t id,
                                                     const StoreArgs &args, Console &console)
{
    if (id <= 0)
        return Error(Errc::Usage,
                     "alarm id " + std::to_string(id) + ": give the id `bwc alarms` shows (#N)");
    return openForChange(command, args, console);
}

} // namespace

int runAssign(const AssignArgs &args, Console &console)
{
    constexpr std::string_view kCommand = "assign";
    if (args.device.empty() || args.officer.empty())
        return reportError(console, kCommand,
                           Error(Errc::Usage, "give the device id and the officer id: bwc assign "
                                              "DEVICE OFFICER --reason TEXT"));
    auto session = openForChange(kCommand, args, console);
    if (!session)
        return reportError(console, kCommand, session.error());
    StoreSession &s = **session;
    if (auto ok = s.store().assignOfficer(args.device, args.officer, s.actor(), args.reason); !ok)
        return reportError(console, kCommand, ok.error());
    console.out << "device " << args.device << " assigned to officer " << args.officer
                << " (the camera receives it at its next dock)\n";
    return kExitOk;
}

int runCategorize(const CategorizeArgs &args, Console &console)
{
    constexpr std::string_view kCommand = "categorize";
    auto session = openForChange(kCommand, args, console);
    if (!session)
        return reportError(console, kCommand, session.error());
    StoreSession &s = **session;
    auto clip = s.findClip(args.uuid);
    if (!clip)
        return reportError(console, kCommand, clip.error());
    if (clip->state == store::ClipState::Purged)
        return reportError(console, kCommand,
                           Error(Errc::Usage, "clip " + formatClipUuid(clip->uuid) +
                                                  " was purged; its category no longer matters"));
    auto days = s.catalog().categoryRetentionDays(args.category);
    if (!days)
        return reportError(console, kCommand, days.error());
    if (!*days)
        return reportError(console, kCommand,
                           Error(Errc::NotFound,
                                 "category \"" + args.category +
                                     "\" is not defined; define it first with `bwc category "
                                     "define NAME DAYS --reason TEXT`"));
    auto row = s.store().categorize(clip->uuid, args.category, s.actor(), args.reason);
    if (!row)
        return reportError(console, kCommand, row.error());
    console.out << "clip " << formatClipUuid(row->uuid) << ": category " << row->category
                << ", retention deadline " << formatUtcMs(row->retentionDeadlineUtcMs) << "\n";
    return kExitOk;
}

int runCategoryDefine(const CategoryDefineArgs &args, Console &console)
{
    constexpr std::string_view kCommand = "category define";
    if (args.name.empty())
        return reportError(console, kCommand,
                           Error(Errc::Usage, "give the category's name: bwc category define "
                                              "NAME DAYS --reason TEXT"));
    if (auto ok = checkDays("DAYS", args.days); !ok)
        return reportError(console, kCommand, ok.error());
    auto session = openForChange(kCommand, args, console);
    if (!session)
        return reportError(console, kCommand, session.error());
    StoreSession &s = **session;
    if (auto ok = s.store().defineCategory(args.name, args.days, s.actor(), args.reason); !ok)
        return reportError(console, kCommand, ok.error());
    console.out << "category " << args.name << ": clips are kept " << args.days
                << " days after they end (clips already in it keep their deadline until "
                   "categorised again)\n";
    return kExitOk;
}

int runHold(const HoldArgs &args, Console &console)
{
    const std::string_view kCommand = args.place ? "hold place" : "hold release";
    auto session = openForChange(kCommand, args, console);
    if (!session)
        return reportError(console, kCommand, session.error());
    StoreSession &s = **session;
    auto clip = s.findClip(args.uuid);
    if (!clip)
        return reportError(console, kCommand, clip.error());
    if (args.place) {
        if (clip->state == store::ClipState::Purged)
            return reportError(console, kCommand,
                               Error(Errc::Usage, "clip " + formatClipUuid(clip->uuid) +
                                                      " was purged; there is no media to hold"));
        auto id = s.store().placeHold(clip->uuid, s.actor(), args.reason);
        if (!id)
            return reportError(console, kCommand, id.error());
        console.out << "hold #" << *id << " placed on clip " << formatClipUuid(clip->uuid)
                    << ": it will not be purged until every hold is released\n";
        return kExitOk;
    }
    auto released = s.store().releaseHold(clip->uuid, s.actor(), args.reason);
    if (!released)
        return reportError(console, kCommand, released.error());
    console.out << *released << " hold(s) released on clip " << formatClipUuid(clip->uuid)
                << "; retention deadline " << formatUtcMs(clip->retentionDeadlineUtcMs) << "\n";
    return kExitOk;
}

int runAlarms(const AlarmsArgs &args, Console &console)
{
    constexpr std::string_view kCommand = "alarms";
    auto session = StoreSession::open(args, console.clock);
    if (!session)
        return reportError(console, kCommand, session.error());
    StoreSession &s = **session;
    auto alarms = s.catalog().listAlarms(!args.all);
    if (!alarms)
        return reportError(console, kCommand, alarms.error());
    const std::string reason = args.reason.empty() ? "alarm review" : args.reason;
    if (auto ok = s.audit(audit::AuditRecord{s.actor(), "alarms", reason, {}, 0, {}, "ok",
                                             std::to_string(alarms->size()) +
                                                 (args.all ? " alarm(s)" : " open alarm(s)")});
        !ok)
        return reportError(console, kCommand, ok.error());

    std::ostream &out = console.out;
    if (args.json) {
        out << "{\n  \"count\": " << alarms->size() << ",\n  \"alarms\": [";
        for (size_t i = 0; i < alarms->size(); ++i) {
            const store::AlarmRow &a = (*alarms)[i];
            out << (i ? "," : "") << "\n    {\"id\": " << a.id
                << ", \"kind\": " << jsonString(store::alarmKindName(a.kind))
                << ", \"device_id\": " << jsonString(a.deviceId) << ", \"seq\": " << a.seq
                << ", \"clip_uuid\": "
                << jsonString(a.clipUuid.empty() ? std::string() : formatClipUuid(a.clipUuid))
                << ", \"utc\": " << jsonString(formatUtcMs(a.utcMs))
                << ", \"detail\": " << jsonString(a.detail)
                << ", \"acknowledged\": " << (a.acknowledged ? "true" : "false")
                << ", \"acknowledged_by\": " << jsonString(a.acknowledgedBy) << "}";
        }
        out << (alarms->empty() ? "" : "\n  ") << "]\n}\n";
        return kExitOk;
    }
    for (const store::AlarmRow &a : *alarms) {
        out << "#" << a.id << " " << store::alarmKindName(a.kind) << " " << formatUtcMs(a.utcMs)
            << " device " << a.deviceId << " seq " << a.seq;
        if (!a.clipUuid.empty())
            out << " clip " << formatClipUuid(a.clipUuid);
        if (a.acknowledged)
            out << " [acknowledged by " << a.acknowledgedBy << "]";
        out << "\n    " << a.detail << "\n";
    }
    out << alarms->size() << (args.all ? " alarm(s)" : " open alarm(s)");
    if (!args.all && !alarms->empty())
        out << "; acknowledge each with `bwc alarms ack ID --reason TEXT` once examined, or "
               "accept a GAP with `bwc alarms accept-gap ID --reason TEXT`";
    out << "\n";
    return kExitOk;
}

int runAlarmAck(const AlarmAckArgs &args, Console &console)
{
    constexpr std::string_view kCommand = "alarms ack";
    auto session = openForAlarm(kCommand, args.id, args, console);
    if (!session)
        return reportError(console, kCommand, session.error());
    StoreSession &s = **session;
    if (auto ok = s.store().acknowledgeAlarm(args.id, s.actor(), args.reason); !ok)
        return reportError(console, kCommand, ok.error());
    console.out << "alarm #" << args.id << " acknowledged by " << s.actor() << "\n";
    return kExitOk;
}

int runAlarmAcceptGap(const AlarmAcceptGapArgs &args, Console &console)
{
    constexpr std::string_view kCommand = "alarms accept-gap";
    auto session = openForAlarm(kCommand, args.id, args, console);
    if (!session)
        return reportError(console, kCommand, session.error());
    StoreSession &s = **session;
    auto accepted = [&]() -> Expected<store::AcceptedGap> {
        BWC_ASSIGN(ca, s.caDer());
        BWC_ASSIGN(crls, s.crlsDer());
        BWC_ASSIGN(key, s.evidenceKey());
        return s.store().acceptGap(args.id, ca, crls.empty() ? Bytes() : crls.front(), key,
                                   s.actor(), args.reason);
    }();
    if (!accepted)
        return reportError(console, kCommand, accepted.error());
    const store::GapRow &g = accepted->gap;
    console.out << "alarm #" << args.id << " accepted by " << s.actor() << ": device "
                << g.deviceId << " seq " << g.firstMissingSeq;
    if (g.lastMissingSeq > g.firstMissingSeq)
        console.out << ".." << g.lastMissingSeq;
    console.out << " recorded as missing; seq " << g.resumedSeq << " verified and stored as "
                << accepted->commit.objectPath
                << "\nthe camera gets its receipt and wipes the clip at its next docking\n";
    return kExitOk;
}

int runRetention(const RetentionArgs &args, Console &console)
{
    constexpr std::string_view kCommand = "retention run";
    auto session = openForChange(kCommand, args, console);
    if (!session)
        return reportError(console, kCommand, session.error());
    StoreSession &s = **session;
    const int64_t now = s.clock().utcMs();

    auto due = s.catalog().clipsPastDeadline(now);
    if (!due)
        return reportError(console, kCommand, due.error());
    // Clips past their deadline that a hold keeps, for the operator to see.
    store::ClipFilter stored;
    stored.state = store::ClipState::Stored;
    auto all = s.catalog().listClips(stored);
    if (!all)
        return reportError(console, kCommand, all.error());
    std::vector<std::pair<store::ClipRow, size_t>> held;
    for (const store::ClipRow &c : *all) {
        if (c.retentionDeadlineUtcMs >= now)
            continue;
        auto holds = s.catalog().activeHolds(c.uuid);
        if (!holds)
            return reportError(console, kCommand, holds.error());
        if (!holds->empty())
            held.emplace_back(c, holds->size());
    }

    std::ostream &out = console.out;
    out << "retention at " << formatUtcMs(now) << ": " << due->size()
        << " clip(s) past their deadline without an active hold, " << held.size()
        << " kept by a hold\n";
    for (const auto &[c, n] : held)
        out << "  keep   " << formatClipUuid(c.uuid) << " " << c.deviceId << " seq " << c.seq
            << ", deadline " << formatUtcMs(c.retentionDeadlineUtcMs) << ", " << n
            << " active hold(s)\n";

    if (!args.apply) {
        for (const store::ClipRow &c : *due)
            out << "  would purge " << formatClipUuid(c.uuid) << " " << c.deviceId << " seq "
                << c.seq << " (" << c.category << ", deadline "
                << formatUtcMs(c.retentionDeadlineUtcMs) << ", " << humanBytes(c.size) << ")\n";
        if (auto ok = s.audit(audit::AuditRecord{s.actor(), "retention.review", args.reason, {},
                                                 0, {}, "dry run",
                                                 std::to_string(due->size()) +
                                                     " clip(s) due for purge, " +
                                                     std::to_string(held.size()) + " held"});
            !ok)
            return reportError(console, kCommand, ok.error());
        out << "dry run: nothing was purged; run again with --apply to purge "
            << due->size() << " clip(s)\n";
        return kExitOk;
    }

    size_t purged = 0, failed = 0;
    for (const store::ClipRow &c : *due) {
        if (auto ok = s.store().purgeClip(c.uuid, s.actor(), args.reason); !ok) {
            ++failed;
            console.err << formatError(kCommand, ok.error().context(
                                                     "clip " + formatClipUuid(c.uuid)))
                        << "\n";
            continue;
        }
        ++purged;
        out << "  purged " << formatClipUuid(c.uuid) << " " << c.deviceId << " seq " << c.seq
            << " (media crypto-erased, manifest kept as tombstone)\n";
    }
    if (auto ok = s.audit(audit::AuditRecord{s.actor(), "retention.run", args.reason, {}, 0, {},
                                             failed ? "incomplete" : "ok",
                                             std::to_string(purged) + " purged, " +
                                                 std::to_string(failed) + " failed, " +
                                                 std::to_string(held.size()) + " held"});
        !ok)
        return reportError(console, kCommand, ok.error());
    out << purged << " clip(s) purged";
    if (failed)
        out << ", " << failed << " failed (see above; run again once fixed)";
    out << "\n";
    return failed ? kExitUsage : kExitOk;
}

} // namespace bwc::cli
