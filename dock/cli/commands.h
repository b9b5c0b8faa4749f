#pragma once

// The `bwc` commands. Each takes its parsed arguments and returns the process exit code
// (cli_util.h); errors are printed to stderr as "bwc <command>: ..." by the command.

#include <string>
#include <vector>

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
};
int runVerify(const VerifyArgs &args);

} // namespace bwc::cli
