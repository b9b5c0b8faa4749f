#pragma once

// The `bwc` commands. Each takes its parsed arguments and returns the process exit code
// (cli_util.h); errors are printed to stderr as "bwc <command>: ..." by the command.

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace bwc {
class Clock;
}

namespace bwc::cli {

// "bwc 0.1.0": the tool's name and version, for --version and reports.
std::string toolVersion();

struct PkiArgs {
    std::string dir;
    std::string name;   // agency (init), device/dock id, recipient name, name or serial (revoke)
    std::string reason; // revoke
    int days = 0;
};
int runPkiInit(const PkiArgs &args);
int runPkiIssueDevice(const PkiArgs &args);
int runPkiIssueDock(const PkiArgs &args);
int runPkiIssueRecipient(const PkiArgs &args);
int runPkiRevoke(const PkiArgs &args);
int runPkiCrl(const PkiArgs &args);

struct SealArgs {
    std::string input;
    std::string deviceKey;
    std::string deviceCert;
    std::vector<std::string> recipients;
    std::string stateDir;
    std::string outDir;
    std::string officer;
    std::string backend = "mbedtls";
};
int runSeal(const SealArgs &args);

struct OpenArgs {
    std::string clip;
    std::string key;
    std::string out;
    std::string manifest;
};
int runOpen(const OpenArgs &args);

struct VerifyArgs {
    std::string path;
    std::string ca;
    std::vector<std::string> crls;
    std::string cert;
    std::string manifest;
    std::string key;
    bool json = false;
    std::string examiner;
    std::string reportOut;
    // A stored clip (PATH is a clip uuid): the dock config, and who verifies and why.
    std::string dockConfig;
    std::string actor;
    std::string reason;
};
// Verifies a clip file or an export bundle (PATH exists).
int runVerify(const VerifyArgs &args);

// Where the evidence commands write: the report or listing on `out`, errors and progress
// on `err`; `clock` is the time of the audit entries and of retention decisions.
struct Console {
    std::ostream &out;
    std::ostream &err;
    const Clock &clock;
    bool progress = false; // progress lines on `err`
};

// Arguments every evidence command takes: the dock's configuration (which names the store
// and the dock key that signs the audit log), who acts and why.
struct StoreArgs {
    std::string dockConfig; // empty: dock::kDefaultDockConfigPath
    std::string actor;      // empty: the login name
    std::string reason;
    bool json = false;
};

// `bwc verify ARG`: a path (runVerify) or a stored clip's uuid (runVerifyStored).
int runVerifyAny(const VerifyArgs &args, Console &console);
// Re-verifies a stored clip from the store; audited ("verify").
int runVerifyStored(const VerifyArgs &args, Console &console);

struct ListArgs : StoreArgs {
    std::string device, officer, from, to, category, state;
    bool alarmsOnly = false;
};
int runList(const ListArgs &args, Console &console);

struct ShowArgs : StoreArgs {
    std::string uuid;
};
int runShow(const ShowArgs &args, Console &console);

struct ExportArgs : StoreArgs {
    std::vector<std::string> uuids;
    std::string out;
    bool plaintext = false;
};
int runExport(const ExportArgs &args, Console &console);

struct AuditArgs : StoreArgs {
    uint64_t fromSeq = 1;
};
int runAudit(const AuditArgs &args, Console &console);

struct AssignArgs : StoreArgs {
    std::string device, officer;
};
int runAssign(const AssignArgs &args, Console &console);

struct CategorizeArgs : StoreArgs {
    std::string uuid, category;
};
int runCategorize(const CategorizeArgs &args, Console &console);

struct CategoryDefineArgs : StoreArgs {
    std::string name;
    int days = 0;
};
int runCategoryDefine(const CategoryDefineArgs &args, Console &console);

struct HoldArgs : StoreArgs {
    std::string uuid;
    bool place = true; // false: release
};
int runHold(const HoldArgs &args, Console &console);

struct AlarmsArgs : StoreArgs {
    bool all = false;
};
int runAlarms(const AlarmsArgs &args, Console &console);

struct AlarmAckArgs : StoreArgs {
    int64_t id = 0;
};
int runAlarmAck(const AlarmAckArgs &args, Console &console);

// Accepts an examined GAP: the quarantined clip is verified again and stored, the missing
// manifests recorded (EvidenceStore::acceptGap).
struct AlarmAcceptGapArgs : StoreArgs {
    int64_t id = 0;
};
int runAlarmAcceptGap(const AlarmAcceptGapArgs &args, Console &console);

struct RetentionArgs : StoreArgs {
    bool apply = false;
};
int runRetention(const RetentionArgs &args, Console &console);

} // namespace bwc::cli
