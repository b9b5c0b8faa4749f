// bwc: the evidence tool. Provisions the agency PKI, seals files as clips, verifies clips
// and export bundles offline, opens (decrypts) clips for holders of the agency key, and
// works on the dock's evidence store (list, show, verify, export, audit, assignments,
// categories, holds, alarms, retention).

#include <CLI/CLI.hpp>
#include <iostream>
#include <unistd.h>

#include <google/protobuf/stubs/logging.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "dock/cli/cli_util.h"
#include "dock/cli/commands.h"
#include "dock/config/dock_config.h"

namespace bwc::cli {

namespace {

// --dock-config, --actor and --reason (and --json when the command prints a listing).
void addStoreOptions(CLI::App *cmd, StoreArgs &args, bool json, const char *reasonHelp)
{
    cmd->add_option("--dock-config", args.dockConfig,
                    "the dock's configuration (store, dock key, CA, CRL)")
        ->default_str(dock::kDefaultDockConfigPath);
    cmd->add_option("--actor", args.actor,
                    "who is acting, for the audit log (default: your login name)");
    cmd->add_option("--reason", args.reason, reasonHelp);
    if (json)
        cmd->add_flag("--json", args.json, "print JSON");
}

int run(int argc, char **argv)
{
    CLI::App app{"bwc: body-worn camera evidence tool (evidence store, verify, export, open, "
                 "seal, agency PKI)",
                 "bwc"};
    app.require_subcommand(1);
    app.set_version_flag("--version", toolVersion());
    int exitCode = kExitOk;
    static const SystemClock systemClock;
    Console console{std::cout, std::cerr, systemClock, ::isatty(STDERR_FILENO) == 1};
    constexpr const char *kChangeReason = "why (required; recorded in the audit log)";

    // bwc pki ...
    PkiArgs initArgs, deviceArgs, dockArgs, recipientArgs, revokeArgs, crlArgs;
    CLI::App *pkiCmd = app.add_subcommand("pki", "provision the agency PKI kept in a directory");
    pkiCmd->require_subcommand(1);

    CLI::App *init = pkiCmd->add_subcommand("init", "create the agency CA, its CRL and index");
    init->add_option("DIR", initArgs.dir, "directory for the agency PKI (created)")->required();
    init->add_option("--agency", initArgs.name, "agency name (the CA is \"<name> Root CA\")")
        ->required();
    init->add_option("--days", initArgs.days, "CA validity in days")->default_val(3650);
    init->callback([&] { exitCode = runPkiInit(initArgs); });

    CLI::App *dev = pkiCmd->add_subcommand("issue-device", "issue a camera key and certificate");
    dev->add_option("DIR", deviceArgs.dir, "agency PKI directory")->required();
    dev->add_option("ID", deviceArgs.name, "device id (certificate common name)")->required();
    dev->add_option("--days", deviceArgs.days, "validity in days")->default_val(730);
    dev->callback([&] { exitCode = runPkiIssueDevice(deviceArgs); });

    CLI::App *dock = pkiCmd->add_subcommand("issue-dock", "issue a dock key and certificate");
    dock->add_option("DIR", dockArgs.dir, "agency PKI directory")->required();
    dock->add_option("ID", dockArgs.name, "dock id (certificate common name)")->required();
    dock->add_option("--days", dockArgs.days, "validity in days")->default_val(730);
    dock->callback([&] { exitCode = runPkiIssueDock(dockArgs); });

    CLI::App *rcpt = pkiCmd->add_subcommand(
        "issue-recipient", "issue an agency evidence key (AEK) that clips are encrypted to");
    rcpt->add_option("DIR", recipientArgs.dir, "agency PKI directory")->required();
    rcpt->add_option("NAME", recipientArgs.name, "recipient name")->required();
    rcpt->add_option("--days", recipientArgs.days, "validity in days")->default_val(3650);
    rcpt->callback([&] { exitCode = runPkiIssueRecipient(recipientArgs); });

    CLI::App *revoke = pkiCmd->add_subcommand("revoke", "revoke a certificate by name or serial");
    revoke->add_option("DIR", revokeArgs.dir, "agency PKI directory")->required();
    revoke->add_option("NAME_OR_SERIAL", revokeArgs.name, "certificate name or serial (hex)")
        ->required();
    revoke->add_option("--reason", revokeArgs.reason, "why it is revoked")->required();
    revoke->callback([&] { exitCode = runPkiRevoke(revokeArgs); });

    CLI::App *crl = pkiCmd->add_subcommand("crl", "publish a new CRL (crl.pem)");
    crl->add_option("DIR", crlArgs.dir, "agency PKI directory")->required();
    crl->add_option("--days", crlArgs.days, "CRL validity in days")->default_val(30);
    crl->callback([&] { exitCode = runPkiCrl(crlArgs); });

    // bwc seal
    SealArgs seal;
    CLI::App *sealCmd = app.add_subcommand(
        "seal", "seal a file as a clip with a software device identity (as the camera does)");
    sealCmd->add_option("INPUT", seal.input, "file to seal (a fragmented MP4)")->required();
    sealCmd->add_option("--device-key", seal.deviceKey, "device private key (PEM)")->required();
    sealCmd->add_option("--device-cert", seal.deviceCert, "device certificate chain (PEM)")
        ->required();
    sealCmd
        ->add_option("--recipient", seal.recipients,
                     "recipient certificate (agency evidence key); repeatable")
        ->required();
    sealCmd->add_option("--state", seal.stateDir, "device state directory (counter, chain)")
        ->required();
    sealCmd->add_option("--out", seal.outDir, "output directory for the clip")->required();
    sealCmd->add_option("--officer", seal.officer, "officer id recorded in the manifest");
    sealCmd->add_option("--backend", seal.backend, "crypto backend: mbedtls or openssl")
        ->default_val("mbedtls");
    sealCmd->callback([&] { exitCode = runSeal(seal); });

    // bwc open
    OpenArgs open;
    CLI::App *openCmd =
        app.add_subcommand("open", "decrypt a clip's video with the agency evidence key");
    openCmd->add_option("CLIP", open.clip, "clip file (<uuid>.bwcclip)")->required();
    openCmd->add_option("--key", open.key, "agency evidence key (PEM)")->required();
    openCmd->add_option("--out", open.out, "output file (must not exist)")->required();
    openCmd->add_option("--manifest", open.manifest,
                        "signed manifest (default: <uuid>.bwcm next to the clip)");
    openCmd->callback([&] { exitCode = runOpen(open); });

    // bwc verify
    VerifyArgs verify;
    CLI::App *verifyCmd = app.add_subcommand(
        "verify", "verify a clip file, an export bundle, or a clip in the dock's store (by "
                  "uuid), and print the report");
    verifyCmd
        ->add_option("PATH", verify.path,
                     "clip file, bundle directory, or the uuid of a stored clip")
        ->required();
    verifyCmd->add_option("--ca", verify.ca,
                          "agency CA certificate, from the agency (required for files and "
                          "bundles; stored clips: default ca_path of the dock config)");
    verifyCmd->add_option("--crl", verify.crls, "CRL (PEM); repeatable");
    verifyCmd->add_option("--cert", verify.cert,
                          "device certificate chain (default: <uuid>.cert.pem; stored clips: "
                          "devices/<id>.pem beside the agency CA)");
    verifyCmd->add_option("--manifest", verify.manifest,
                          "signed manifest (default: <uuid>.bwcm next to the clip)");
    verifyCmd->add_option("--key", verify.key,
                          "agency evidence key: also decrypt and check every chunk");
    verifyCmd->add_flag("--json", verify.json, "print the report as JSON");
    verifyCmd->add_option("--examiner", verify.examiner, "examiner named in the report");
    verifyCmd->add_option("--report-out", verify.reportOut, "also write the report to FILE");
    verifyCmd
        ->add_option("--dock-config", verify.dockConfig,
                     "stored clips: the dock's configuration")
        ->default_str(dock::kDefaultDockConfigPath);
    verifyCmd->add_option("--actor", verify.actor,
                          "stored clips: who verifies, for the audit log (default: login name)");
    verifyCmd->add_option("--reason", verify.reason,
                          "stored clips: why (required; recorded in the audit log)");
    verifyCmd->callback([&] { exitCode = runVerifyAny(verify, console); });

    // bwc list
    ListArgs list;
    CLI::App *listCmd = app.add_subcommand("list", "list the clips in the dock's evidence store");
    listCmd->add_option("--device", list.device, "only this device");
    listCmd->add_option("--officer", list.officer, "only this officer");
    listCmd->add_option("--from", list.from, "only clips ending at or after this UTC time");
    listCmd->add_option("--to", list.to, "only clips starting before this UTC time");
    listCmd->add_option("--category", list.category, "only this category");
    listCmd->add_option("--state", list.state, "only clips in this state")
        ->check(CLI::IsMember({"stored", "quarantined", "purged"}));
    listCmd->add_flag("--alarms", list.alarmsOnly, "only clips with an alarm");
    addStoreOptions(listCmd, list, true, "why (default \"catalog listing\")");
    listCmd->callback([&] { exitCode = runList(list, console); });

    // bwc show
    ShowArgs show;
    CLI::App *showCmd = app.add_subcommand(
        "show", "everything about a stored clip: catalog, manifest, holds, alarms, custody");
    showCmd->add_option("UUID", show.uuid, "clip uuid")->required();
    addStoreOptions(showCmd, show, true, kChangeReason);
    showCmd->callback([&] { exitCode = runShow(show, console); });

    // bwc export
    ExportArgs exportArgs;
    CLI::App *exportCmd = app.add_subcommand(
        "export", "export stored clips of one device as a bundle for court (verified on export)");
    exportCmd->add_option("UUID", exportArgs.uuids, "clip uuids")->required()->expected(1, -1);
    exportCmd->add_option("--out", exportArgs.out, "bundle directory to create")->required();
    exportCmd->add_flag("--plaintext", exportArgs.plaintext,
                        "also include the decrypted MP4 (needs aek_key_path)");
    addStoreOptions(exportCmd, exportArgs, true, kChangeReason);
    exportCmd->callback([&] { exitCode = runExport(exportArgs, console); });

    // bwc audit
    AuditArgs auditArgs;
    CLI::App *auditCmd =
        app.add_subcommand("audit", "print the dock's audit log and verify its whole chain");
    auditCmd->add_option("--from", auditArgs.fromSeq, "print entries from this seq")
        ->default_val(1);
    addStoreOptions(auditCmd, auditArgs, true, "why (default \"audit log review\")");
    auditCmd->callback([&] { exitCode = runAudit(auditArgs, console); });

    // bwc assign
    AssignArgs assign;
    CLI::App *assignCmd =
        app.add_subcommand("assign", "assign a camera to an officer (sent at its next dock)");
    assignCmd->add_option("DEVICE", assign.device, "device id")->required();
    assignCmd->add_option("OFFICER", assign.officer, "officer id")->required();
    addStoreOptions(assignCmd, assign, false, kChangeReason);
    assignCmd->callback([&] { exitCode = runAssign(assign, console); });

    // bwc categorize, bwc category define
    CategorizeArgs categorize;
    CLI::App *categorizeCmd = app.add_subcommand(
        "categorize", "set a clip's category (its retention deadline follows)");
    categorizeCmd->add_option("UUID", categorize.uuid, "clip uuid")->required();
    categorizeCmd->add_option("CATEGORY", categorize.category, "category name")->required();
    addStoreOptions(categorizeCmd, categorize, false, kChangeReason);
    categorizeCmd->callback([&] { exitCode = runCategorize(categorize, console); });

    CategoryDefineArgs define;
    CLI::App *categoryCmd = app.add_subcommand("category", "retention categories");
    categoryCmd->require_subcommand(1);
    CLI::App *defineCmd =
        categoryCmd->add_subcommand("define", "define or change a category's retention");
    defineCmd->add_option("NAME", define.name, "category name")->required();
    defineCmd->add_option("DAYS", define.days, "days a clip is kept after it ends")->required();
    addStoreOptions(defineCmd, define, false, kChangeReason);
    defineCmd->callback([&] { exitCode = runCategoryDefine(define, console); });

    // bwc hold place|release
    HoldArgs placeArgs, releaseArgs;
    releaseArgs.place = false;
    CLI::App *holdCmd = app.add_subcommand("hold", "legal holds (a held clip is never purged)");
    holdCmd->require_subcommand(1);
    CLI::App *placeCmd = holdCmd->add_subcommand("place", "place a hold on a clip");
    placeCmd->add_option("UUID", placeArgs.uuid, "clip uuid")->required();
    addStoreOptions(placeCmd, placeArgs, false, kChangeReason);
    placeCmd->callback([&] { exitCode = runHold(placeArgs, console); });
    CLI::App *releaseCmd =
        holdCmd->add_subcommand("release", "release every active hold on a clip");
    releaseCmd->add_option("UUID", releaseArgs.uuid, "clip uuid")->required();
    addStoreOptions(releaseCmd, releaseArgs, false, kChangeReason);
    releaseCmd->callback([&] { exitCode = runHold(releaseArgs, console); });

    // bwc alarms [ack ID | accept-gap ID]
    AlarmsArgs alarms;
    AlarmAckArgs ack;
    AlarmAcceptGapArgs acceptGap;
    CLI::App *alarmsCmd =
        app.add_subcommand("alarms", "chain and verification alarms (open ones by default)");
    alarmsCmd->add_flag("--all", alarms.all, "include acknowledged alarms");
    addStoreOptions(alarmsCmd, alarms, true, "why (default \"alarm review\")");
    CLI::App *ackCmd = alarmsCmd->add_subcommand("ack", "acknowledge an alarm once examined");
    ackCmd->add_option("ID", ack.id, "alarm id (#N in `bwc alarms`)")->required();
    addStoreOptions(ackCmd, ack, false, kChangeReason);
    ackCmd->callback([&] { exitCode = runAlarmAck(ack, console); });
    CLI::App *acceptGapCmd = alarmsCmd->add_subcommand(
        "accept-gap", "accept an examined GAP: verify its quarantined clip again, store it and "
                      "record the missing manifests");
    acceptGapCmd->add_option("ID", acceptGap.id, "GAP alarm id (#N in `bwc alarms`)")->required();
    addStoreOptions(acceptGapCmd, acceptGap, false, kChangeReason);
    acceptGapCmd->callback([&] { exitCode = runAlarmAcceptGap(acceptGap, console); });
    alarmsCmd->callback([&] {
        if (!ackCmd->parsed() && !acceptGapCmd->parsed())
            exitCode = runAlarms(alarms, console);
    });

    // bwc retention run
    RetentionArgs retention;
    CLI::App *retentionCmd = app.add_subcommand("retention", "retention of stored clips");
    retentionCmd->require_subcommand(1);
    CLI::App *runCmd = retentionCmd->add_subcommand(
        "run", "purge clips past their deadline without a hold (dry run unless --apply)");
    runCmd->add_flag("--apply", retention.apply,
                     "purge (crypto-erase; the manifest is kept as a tombstone)");
    addStoreOptions(runCmd, retention, false, kChangeReason);
    runCmd->callback([&] { exitCode = runRetention(retention, console); });

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        if (e.get_exit_code() == 0)
            return app.exit(e);
        // Name the command that was being parsed: "bwc seal: INPUT is required".
        std::string command;
        for (const CLI::App *sub = &app;;) {
            const auto parsed = sub->get_subcommands();
            if (parsed.empty())
                break;
            sub = parsed.front();
            command += (command.empty() ? "" : " ") + sub->get_name();
        }
        std::cerr << formatError(command, Error(Errc::Usage, e.what())) << "\n"
                  << "run `bwc " << (command.empty() ? "" : command + " ") << "--help` for usage\n";
        return kExitUsage;
    }
    return exitCode;
}

} // namespace

} // namespace bwc::cli

namespace {

// Protobuf reports hostile input (invalid UTF-8 in a string field, ...) on stderr in its
// own words; our parsers already turn the same failure into an error that names the file
// and what to do, so protobuf's lines are kept for BWC_LOG=debug only.
void protobufLog(google::protobuf::LogLevel, const char *file, int line, const std::string &message)
{
    bwc::log::debug(std::string("protobuf ") + file + ":" + std::to_string(line) + ": " + message);
}

} // namespace

int main(int argc, char **argv)
{
    bwc::log::setProgram("bwc");
    google::protobuf::SetLogHandler(&protobufLog);
    return bwc::cli::run(argc, argv);
}
