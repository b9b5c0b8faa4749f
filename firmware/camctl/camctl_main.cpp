// bwc-camctl: operates a running bwc-camd over its control socket (one request line, one
// JSON response line). Exit status: 0 when the camera answered "ok":true, 1 when it
// answered with an error, 2 for a bad command line or when it could not be asked.

#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "common/base/error.h"
#include "firmware/control/control.h"
#include "firmware/control/json_read.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitRefused = 1;
constexpr int kExitUsage = 2;

constexpr const char *kDefaultSocket = "/run/bwc/camd.sock";
constexpr const char *kSocketEnv = "BWC_CAMD_SOCKET";
constexpr int kDefaultTimeoutMs = 10'000;
// `hold` answers after the release: its timeout is the hold plus this much.
constexpr int kHoldMarginMs = 10'000;
// `dock` answers when the offload is over: every clip sent to the dock, the receipt, the
// wipe. Its bound is the camera's own frame timeouts, so wait long by default.
constexpr int kDockTimeoutMs = 600'000;

int fail(int code, const std::string &message)
{
    std::cerr << "bwc-camctl: " << message << "\n";
    return code;
}

const bwc::fw::JsonMember *findMember(const std::vector<bwc::fw::JsonMember> &members,
                                      std::string_view key)
{
    for (const auto &m : members) {
        if (m.key == key)
            return &m;
    }
    return nullptr;
}

// The text to print for a JSON value: strings unquoted, everything else as JSON.
std::optional<std::string> printable(const std::string &json, bool pretty)
{
    if (!json.empty() && json.front() == '"') {
        auto text = bwc::fw::jsonUnquote(json);
        if (!text)
            return std::nullopt;
        return *text;
    }
    if (!pretty)
        return json;
    auto indented = bwc::fw::jsonPretty(json);
    if (!indented)
        return std::nullopt;
    return *indented;
}

struct Options {
    std::string socket = kDefaultSocket;
    int timeoutMs = kDefaultTimeoutMs;
    bool pretty = false;
    std::string command;
    uint32_t holdMs = 0;
    std::string field;
};

int execute(const Options &opt, bool timeoutGiven)
{
    std::string request = opt.command;
    int timeoutMs = opt.timeoutMs;
    if (opt.command == "hold") {
        request += " " + std::to_string(opt.holdMs);
        if (!timeoutGiven)
            timeoutMs = int(opt.holdMs) + kHoldMarginMs;
    } else if (opt.command == "dock" && !timeoutGiven) {
        timeoutMs = kDockTimeoutMs;
    }

    auto response = bwc::fw::controlRequest(opt.socket, request, timeoutMs);
    if (!response)
        return fail(kExitUsage, response.error().message);

    auto members = bwc::fw::jsonObjectMembers(*response);
    if (!members)
        return fail(kExitUsage, "bwc-camd on " + opt.socket + " sent a malformed answer (" +
                                    members.error().message + "): " + *response);
    const auto *ok = findMember(*members, "ok");
    if (!ok || (ok->value != "true" && ok->value != "false"))
        return fail(kExitUsage, "bwc-camd on " + opt.socket +
                                    " sent an answer without \"ok\": true or false: " + *response);
    if (ok->value == "false") {
        std::string message = "(no error message)";
        if (const auto *err = findMember(*members, "error")) {
            auto text = printable(err->value, false);
            message = text ? *text : err->value;
        }
        return fail(kExitRefused, opt.command + ": " + message);
    }

    if (!opt.field.empty()) {
        const auto *m = findMember(*members, opt.field);
        if (!m) {
            std::string names;
            for (const auto &each : *members)
                names += (names.empty() ? "" : ", ") + each.key;
            return fail(kExitUsage,
                        "status has no field '" + opt.field + "' (fields: " + names + ")");
        }
        auto text = printable(m->value, opt.pretty);
        if (!text)
            return fail(kExitUsage, "field '" + opt.field + "' is not valid JSON: " + m->value);
        std::cout << *text << "\n";
        return kExitOk;
    }
    auto text = printable(*response, opt.pretty);
    std::cout << (text ? *text : *response) << "\n";
    return kExitOk;
}

int run(int argc, char **argv)
{
    Options opt;
    CLI::App app{"bwc-camctl: operate a running bwc-camd over its control socket", "bwc-camctl"};
    // At most one command; a missing or unknown one is reported below in our words.
    app.require_subcommand(0, 1);
    app.fallthrough();
    app.set_version_flag("--version", std::string("bwc-camctl ") + BWC_VERSION);
    app.add_option("--socket", opt.socket, "control socket of bwc-camd")
        ->envname(kSocketEnv)
        ->default_str(kDefaultSocket);
    CLI::Option *timeout =
        app.add_option("--timeout", opt.timeoutMs,
                       "milliseconds to wait for the answer (hold: MS + 10000, dock: 600000 "
                       "unless given)")
            ->check(CLI::Range(1, 3'600'000))
            ->default_str(std::to_string(kDefaultTimeoutMs));
    app.add_flag("--pretty", opt.pretty, "indent the JSON answer");
    app.footer("Exit status: 0 the camera answered \"ok\":true; 1 it answered with an error "
               "(printed on stderr);\n2 bad command line, no bwc-camd listening, timeout or "
               "malformed answer.\n\nExamples:\n  bwc-camctl status\n  bwc-camctl --socket "
               "/tmp/sim/camd.sock hold 3500\n  bwc-camctl status --field state\n  bwc-camctl dock "
               "--pretty");

    CLI::App *status = app.add_subcommand("status", "print the camera's state as JSON");
    status->add_option("--field", opt.field,
                       "print only this top-level field's value (strings without quotes)");
    app.add_subcommand("press", "press the simulated record button (sim board)");
    app.add_subcommand("release", "release the simulated record button (sim board)");
    CLI::App *hold = app.add_subcommand(
        "hold", "press the simulated button, wait MS milliseconds, release; answers after the "
                "release");
    hold->add_option("MS", opt.holdMs, "how long to hold, 1-60000 ms")
        ->required()
        ->check(CLI::Range(1, 60'000));
    app.add_subcommand("dock", "offload to the configured dock now (dock.address) and print the "
                               "result: clips sent, receipt, clips wiped; not while recording");
    app.add_subcommand("flag", "flag the clip being recorded, else the last one (the dock takes "
                               "cameras with flagged clips first)");
    // Set after the subcommands so that only the top level collects what nothing matched.
    app.allow_extras();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        if (e.get_exit_code() == 0)
            return app.exit(e);
        std::cerr << "bwc-camctl: " << e.what() << "\nrun `bwc-camctl --help` for usage\n";
        return kExitUsage;
    }
    const std::string known = "status, press, release, hold, dock, flag";
    const auto rest = app.remaining();
    if (app.get_subcommands().empty()) {
        std::string what = rest.empty() ? "a command is required (" + known + ")"
                           : rest.front().starts_with("-")
                               ? "unknown option '" + rest.front() + "'"
                               : "unknown command '" + rest.front() + "' (known: " + known + ")";
        return fail(kExitUsage, what + "\nrun `bwc-camctl --help` for usage");
    }
    opt.command = app.get_subcommands().front()->get_name();
    if (!rest.empty())
        return fail(kExitUsage, "unexpected argument '" + rest.front() + "' for " + opt.command +
                                    "\nrun `bwc-camctl " + opt.command + " --help` for usage");
    return execute(opt, timeout->count() > 0);
}

} // namespace

int main(int argc, char **argv)
{
    return run(argc, argv);
}
