// `bwc list` and `bwc show`: the catalog of the dock's evidence store, audited.

#include "dock/cli/commands.h"

#include <algorithm>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "common/base/clock.h"
#include "common/chain/manifest.h"
#include "dock/cli/cli_util.h"
#include "dock/cli/store_session.h"

namespace bwc::cli {

namespace {

std::string duration(int64_t ms)
{
    if (ms < 0)
        ms = 0;
    const int64_t s = ms / 1000;
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
    return buf;
}

// "2026-11-23T09:34:51Z": seconds are enough in a table.
std::string tableTime(int64_t utcMs)
{
    std::string t = formatUtcMs(utcMs);
    if (auto dot = t.find('.'); dot != std::string::npos)
        t = t.substr(0, dot) + "Z";
    return t;
}

std::string orDash(const std::string &s)
{
    return s.empty() ? "-" : s;
}

// Fixed-width columns, widths from the content.
class Table
{
public:
    explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    void print(std::ostream &out) const
    {
        std::vector<size_t> width(rows_.front().size(), 0);
        for (const auto &row : rows_)
            for (size_t i = 0; i < row.size(); ++i)
                width[i] = std::max(width[i], row[i].size());
        for (const auto &row : rows_) {
            std::string line;
            for (size_t i = 0; i < row.size(); ++i) {
                line += row[i];
                if (i + 1 < row.size())
                    line.append(width[i] - row[i].size() + 2, ' ');
            }
            out << line << "\n";
        }
    }

private:
    std::vector<std::vector<std::string>> rows_;
};

struct ListedClip {
    store::ClipRow row;
    size_t holds = 0;
};

std::string describeFilter(const ListArgs &args)
{
    std::string f;
    auto add = [&](const char *name, const std::string &v) {
        if (!v.empty())
            f += std::string(f.empty() ? "" : ", ") + name + " " + v;
    };
    add("device", args.device);
    add("officer", args.officer);
    add("from", args.from);
    add("to", args.to);
    add("category", args.category);
    add("state", args.state);
    if (args.alarmsOnly)
        f += std::string(f.empty() ? "" : ", ") + "alarms only";
    return f.empty() ? "all clips" : f;
}

Expected<store::ClipFilter> makeFilter(const ListArgs &args)
{
    store::ClipFilter filter;
    if (!args.device.empty())
        filter.deviceId = args.device;
    if (!args.officer.empty())
        filter.officerId = args.officer;
    if (!args.from.empty()) {
        BWC_ASSIGN(from, parseUtcArgument("--from", args.from));
        filter.fromUtcMs = from;
    }
    if (!args.to.empty()) {
        BWC_ASSIGN(to, parseUtcArgument("--to", args.to));
        filter.toUtcMs = to;
    }
    if (filter.fromUtcMs && filter.toUtcMs && *filter.fromUtcMs >= *filter.toUtcMs)
        return Error(Errc::Usage, "--from " + args.from + " is not before --to " + args.to +
                                      "; give a time range that is not empty");
    if (!args.category.empty())
        filter.category = args.category;
    if (!args.state.empty()) {
        BWC_ASSIGN(state, parseClipState(args.state));
        filter.state = state;
    }
    filter.alarmsOnly = args.alarmsOnly;
    return filter;
}

void printListJson(std::ostream &out, const std::vector<ListedClip> &clips)
{
    out << "{\n  \"count\": " << clips.size() << ",\n  \"clips\": [";
    for (size_t i = 0; i < clips.size(); ++i) {
        const store::ClipRow &c = clips[i].row;
        out << (i ? "," : "") << "\n    {"
            << "\"uuid\": " << jsonString(formatClipUuid(c.uuid))
            << ", \"device_id\": " << jsonString(c.deviceId) << ", \"seq\": " << c.seq
            << ", \"officer_id\": " << jsonString(c.officerId)
            << ", \"start_utc\": " << jsonString(formatUtcMs(c.startUtcMs))
            << ", \"end_utc\": " << jsonString(formatUtcMs(c.endUtcMs))
            << ", \"duration_ms\": " << (c.endUtcMs - c.startUtcMs) << ", \"size\": " << c.size
            << ", \"category\": " << jsonString(c.category)
            << ", \"retention_deadline_utc\": " << jsonString(formatUtcMs(c.retentionDeadlineUtcMs))
            << ", \"active_holds\": " << clips[i].holds
            << ", \"state\": " << jsonString(store::clipStateName(c.state))
            << ", \"alarm\": " << jsonString(c.alarm)
            << ", \"object_sha256\": " << jsonString(c.objectSha256) << "}";
    }
    out << (clips.empty() ? "" : "\n  ") << "]\n}\n";
}

} // namespace

int runList(const ListArgs &args, Console &console)
{
    constexpr std::string_view kCommand = "list";
    auto filter = makeFilter(args);
    if (!filter)
        return reportError(console, kCommand, filter.error());
    auto session = StoreSession::open(args, console.clock);
    if (!session)
        return reportError(console, kCommand, session.error());
    StoreSession &s = **session;

    auto rows = s.catalog().listClips(*filter);
    if (!rows)
        return reportError(console, kCommand, rows.error());
    std::vector<ListedClip> clips;
    for (store::ClipRow &row : *rows) {
        auto holds = s.catalog().activeHolds(row.uuid);
        if (!holds)
            return reportError(console, kCommand, holds.error());
        clips.push_back(ListedClip{std::move(row), holds->size()});
    }

    const std::string reason = args.reason.empty() ? "catalog listing" : args.reason;
    if (auto ok = s.audit(audit::AuditRecord{s.actor(), "list", reason, args.device, 0, {}, "ok",
                                             describeFilter(args) + ": " +
                                                 std::to_string(clips.size()) + " clip(s)"});
        !ok)
        return reportError(console, kCommand, ok.error());

    if (args.json) {
        printListJson(console.out, clips);
        return kExitOk;
    }
    Table table({"UUID", "DEVICE", "SEQ", "OFFICER", "START (UTC)", "DURATION", "SIZE",
                 "CATEGORY", "DEADLINE (UTC)", "HOLDS", "STATE", "ALARM"});
    for (const ListedClip &c : clips)
        table.add({formatClipUuid(c.row.uuid), c.row.deviceId, std::to_string(c.row.seq),
                   orDash(c.row.officerId), tableTime(c.row.startUtcMs),
                   duration(c.row.endUtcMs - c.row.startUtcMs), humanBytes(c.row.size),
                   c.row.category, tableTime(c.row.retentionDeadlineUtcMs),
                   std::to_string(c.holds), store::clipStateName(c.row.state),
                   orDash(c.row.alarm)});
    table.print(console.out);
    console.out << clips.size() << " clip(s)"
                << (describeFilter(args) == "all clips" ? "" : " matching " + describeFilter(args))
                << "\n";
    return kExitOk;
}

namespace {

// The checks of a report rendered by verify::renderJson, as (name, status) pairs; the
// catalog keeps the offload's report as that JSON text.
std::vector<std::pair<std::string, std::string>> reportChecks(const std::string &json)
{
    std::vector<std::pair<std::string, std::string>> out;
    auto valueAfter = [&](size_t at, std::string_view key, size_t &end) -> std::optional<std::string> {
        const std::string k = "\"" + std::string(key) + "\": \"";
        if (json.compare(at, k.size(), k) != 0)
            return std::nullopt;
        const size_t start = at + k.size();
        end = json.find('"', start);
        if (end == std::string::npos)
            return std::nullopt;
        return json.substr(start, end - start);
    };
    for (size_t at = json.find("\"name\": \""); at != std::string::npos;
         at = json.find("\"name\": \"", at + 1)) {
        size_t end = 0;
        auto name = valueAfter(at, "name", end);
        if (!name)
            continue;
        size_t next = json.find('"', json.find(',', end));
        size_t end2 = 0;
        if (next == std::string::npos)
            continue;
        if (auto status = valueAfter(next, "status", end2))
            out.emplace_back(*name, *status);
    }
    return out;
}

std::string enumName(const std::string &full, std::string_view prefix)
{
    return full.rfind(prefix, 0) == 0 ? full.substr(prefix.size()) : full;
}

std::string hexOrDash(const std::string &raw)
{
    return raw.empty() ? "-" : toHex(asBytes(raw));
}

} // namespace

int runShow(const ShowArgs &args, Console &console)
{
    constexpr std::string_view kCommand = "show";
    if (auto ok = requireReason(kCommand, args.reason); !ok)
        return reportError(console, kCommand, ok.error());
    auto session = StoreSession::open(args, console.clock);
    if (!session)
        return reportError(console, kCommand, session.error());
    StoreSession &s = **session;

    auto clip = s.findClip(args.uuid);
    if (!clip)
        return reportError(console, kCommand, clip.error());
    const store::ClipRow &c = *clip;
    auto signedManifest = s.manifest(c.deviceId, c.seq);
    if (!signedManifest)
        return reportError(console, kCommand, signedManifest.error());
    auto m = chain::parseManifest(*signedManifest);
    if (!m)
        return reportError(console, kCommand, m.error());
    auto holds = s.catalog().activeHolds(c.uuid);
    if (!holds)
        return reportError(console, kCommand, holds.error());
    auto alarms = s.catalog().listAlarms(false);
    if (!alarms)
        return reportError(console, kCommand, alarms.error());
    std::vector<store::AlarmRow> clipAlarms;
    for (const store::AlarmRow &a : *alarms)
        if (a.clipUuid == c.uuid || (a.deviceId == c.deviceId && a.seq == c.seq))
            clipAlarms.push_back(a);

    // Audited before anything is shown, so that the custody below includes this look.
    if (auto ok = s.audit(audit::AuditRecord{s.actor(), "show", args.reason, c.deviceId, c.seq,
                                             c.uuid, "ok", "catalog row, manifest and custody"});
        !ok)
        return reportError(console, kCommand, ok.error());
    auto custody = s.custody(c);
    if (!custody)
        return reportError(console, kCommand, custody.error());
    const auto checks = reportChecks(c.verifyReportJson);
    const std::string kind = enumName(v1::ManifestKind_Name(m->kind()), "MANIFEST_KIND_");
    const std::string trigger = enumName(v1::Trigger_Name(m->trigger()), "TRIGGER_");
    const std::string clockSource = v1::ClockSource_Name(m->clock_source());

    std::ostream &out = console.out;
    if (args.json) {
        out << "{\n  \"uuid\": " << jsonString(formatClipUuid(c.uuid))
            << ",\n  \"device_id\": " << jsonString(c.deviceId) << ",\n  \"seq\": " << c.seq
            << ",\n  \"state\": " << jsonString(store::clipStateName(c.state))
            << ",\n  \"object_sha256\": " << jsonString(c.objectSha256)
            << ",\n  \"object_path\": " << jsonString(c.objectPath)
            << ",\n  \"size\": " << c.size << ",\n  \"officer_id\": " << jsonString(c.officerId)
            << ",\n  \"start_utc\": " << jsonString(formatUtcMs(c.startUtcMs))
            << ",\n  \"end_utc\": " << jsonString(formatUtcMs(c.endUtcMs))
            << ",\n  \"category\": " << jsonString(c.category)
            << ",\n  \"retention_deadline_utc\": "
            << jsonString(formatUtcMs(c.retentionDeadlineUtcMs))
            << ",\n  \"stored_utc\": " << jsonString(formatUtcMs(c.storedUtcMs))
            << ",\n  \"verified\": " << (c.verified ? "true" : "false")
            << ",\n  \"alarm\": " << jsonString(c.alarm) << ",\n  \"manifest\": {"
            << "\"kind\": " << jsonString(kind)
            << ", \"signed_utc\": " << jsonString(formatUtcMs(m->signed_utc_ms()))
            << ", \"fw_version\": " << jsonString(m->fw_version())
            << ", \"clock_source\": " << jsonString(clockSource)
            << ", \"clock_error_ms\": " << m->clock_error_ms()
            << ", \"prerecord_ms\": " << m->prerecord_ms()
            << ", \"trigger\": " << jsonString(trigger)
            << ", \"prev_manifest_sha256\": " << jsonString(hexOrDash(m->prev_manifest_sha256()))
            << ", \"header_sha256\": " << jsonString(hexOrDash(m->header_sha256()))
            << ", \"ciphertext_sha256\": " << jsonString(hexOrDash(m->ciphertext_sha256()))
            << ", \"ciphertext_bytes\": " << m->ciphertext_bytes()
            << ", \"plaintext_sha256\": " << jsonString(hexOrDash(m->plaintext_sha256()))
            << ", \"manifest_sha256\": "
            << jsonString(toHex(chain::manifestSha256(s.backend(), *signedManifest))) << "}"
            << ",\n  \"holds\": [";
        for (size_t i = 0; i < holds->size(); ++i) {
            const store::HoldRow &h = (*holds)[i];
            out << (i ? ", " : "") << "{\"id\": " << h.id << ", \"reason\": " << jsonString(h.reason)
                << ", \"placed_by\": " << jsonString(h.placedBy)
                << ", \"since_utc\": " << jsonString(formatUtcMs(h.sinceUtcMs)) << "}";
        }
        out << "],\n  \"alarms\": [";
        for (size_t i = 0; i < clipAlarms.size(); ++i) {
            const store::AlarmRow &a = clipAlarms[i];
            out << (i ? ", " : "") << "{\"id\": " << a.id
                << ", \"kind\": " << jsonString(store::alarmKindName(a.kind))
                << ", \"detail\": " << jsonString(a.detail)
                << ", \"acknowledged\": " << (a.acknowledged ? "true" : "false") << "}";
        }
        out << "],\n  \"custody\": [";
        for (size_t i = 0; i < custody->size(); ++i)
            out << (i ? "," : "") << "\n    " << jsonString((*custody)[i]);
        out << (custody->empty() ? "" : "\n  ") << "],\n  \"offload_report\": "
            << (c.verifyReportJson.empty() ? "null" : c.verifyReportJson) << "\n}\n";
        return kExitOk;
    }

    out << "clip " << formatClipUuid(c.uuid) << "\n"
        << "  device:            " << c.deviceId << " seq " << c.seq << "\n"
        << "  state:             " << store::clipStateName(c.state)
        << (c.state == store::ClipState::Purged
                ? " (media crypto-erased; the signed manifest is kept as a tombstone)"
                : "")
        << "\n"
        << "  officer:           " << orDash(c.officerId) << "\n"
        << "  recorded:          " << formatUtcMs(c.startUtcMs) << " to "
        << formatUtcMs(c.endUtcMs) << " (" << duration(c.endUtcMs - c.startUtcMs) << ")\n"
        << "  object:            " << c.objectSha256 << " (" << c.size << " bytes)\n"
        << "  object path:       " << c.objectPath << "\n"
        << "  stored:            " << formatUtcMs(c.storedUtcMs) << "\n"
        << "  category:          " << c.category << ", deadline "
        << formatUtcMs(c.retentionDeadlineUtcMs) << "\n"
        << "  alarm:             " << orDash(c.alarm) << "\n"
        << "manifest\n"
        << "  kind:              " << kind << "\n"
        << "  signed:            " << formatUtcMs(m->signed_utc_ms()) << "\n"
        << "  firmware:          " << orDash(m->fw_version()) << "\n"
        << "  clock:             " << clockSource << ", error " << m->clock_error_ms()
        << " ms\n"
        << "  trigger:           " << trigger << ", pre-record " << m->prerecord_ms() << " ms\n"
        << "  prev manifest:     " << hexOrDash(m->prev_manifest_sha256()) << "\n"
        << "  manifest sha256:   " << toHex(chain::manifestSha256(s.backend(), *signedManifest))
        << "\n"
        << "  header sha256:     " << hexOrDash(m->header_sha256()) << "\n"
        << "  ciphertext sha256: " << hexOrDash(m->ciphertext_sha256()) << " ("
        << m->ciphertext_bytes() << " bytes)\n"
        << "  plaintext sha256:  " << hexOrDash(m->plaintext_sha256()) << "\n"
        << "verification at offload: " << (c.verified ? "PASS" : "not verified") << "\n";
    for (const auto &[name, status] : checks)
        out << "  " << std::left << std::setw(19) << (name + ":") << status << "\n";
    out << "holds: " << holds->size() << " active\n";
    for (const store::HoldRow &h : *holds)
        out << "  #" << h.id << " since " << formatUtcMs(h.sinceUtcMs) << " by " << h.placedBy
            << ": " << h.reason << "\n";
    out << "alarms: " << clipAlarms.size() << "\n";
    for (const store::AlarmRow &a : clipAlarms)
        out << "  #" << a.id << " " << store::alarmKindName(a.kind) << " "
            << formatUtcMs(a.utcMs) << ": " << a.detail
            << (a.acknowledged ? " (acknowledged by " + a.acknowledgedBy + ")" : "") << "\n";
    out << "custody:\n";
    for (const std::string &line : *custody)
        out << "  " << line << "\n";
    return kExitOk;
}

} // namespace bwc::cli
