// bwc: the evidence tool. Provisions the agency PKI, seals files as clips, verifies clips
// and export bundles offline, and opens (decrypts) clips for holders of the agency key.

#include <CLI/CLI.hpp>
#include <iostream>

#include <google/protobuf/stubs/logging.h>

#include "common/base/log.h"
#include "dock/cli/cli_util.h"
#include "dock/cli/commands.h"

namespace bwc::cli {

std::string toolVersion()
{
    return std::string("bwc ") + BWC_VERSION;
}

namespace {

int run(int argc, char **argv)
{
    CLI::App app{"bwc: body-worn camera evidence tool (verify, open, seal, agency PKI)", "bwc"};
    app.require_subcommand(1);
    app.set_version_flag("--version", toolVersion());
    int exitCode = kExitOk;

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
    CLI::App *verifyCmd =
        app.add_subcommand("verify", "verify a clip or an export bundle and print the report");
    verifyCmd->add_option("PATH", verify.path, "clip file or bundle directory")->required();
    verifyCmd->add_option("--ca", verify.ca, "agency CA certificate, from the agency (required)");
    verifyCmd->add_option("--crl", verify.crls, "CRL (PEM); repeatable");
    verifyCmd->add_option("--cert", verify.cert,
                          "device certificate chain (default: <uuid>.cert.pem)");
    verifyCmd->add_option("--manifest", verify.manifest,
                          "signed manifest (default: <uuid>.bwcm next to the clip)");
    verifyCmd->add_option("--key", verify.key,
                          "agency evidence key: also decrypt and check every chunk");
    verifyCmd->add_flag("--json", verify.json, "print the report as JSON");
    verifyCmd->add_option("--examiner", verify.examiner, "examiner named in the report");
    verifyCmd->add_option("--report-out", verify.reportOut, "also write the report to FILE");
    verifyCmd->callback([&] { exitCode = runVerify(verify); });

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
