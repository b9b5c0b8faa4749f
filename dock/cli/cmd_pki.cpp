// `bwc pki ...`: thin wrappers over the agency PKI store.

#include "dock/cli/commands.h"

#include <cstdio>
#include <iostream>

#include "common/base/clock.h"
#include "dock/cli/cli_util.h"
#include "dock/pki/pki_store.h"

namespace bwc::cli {

namespace {

int fail(std::string_view command, const Error &error)
{
    std::cerr << formatError(command, error) << "\n";
    return kExitUsage;
}

Expected<pki::PkiStore> openStore(const std::string &dir)
{
    auto store = pki::PkiStore::open(dir);
    if (!store && store.error().code == Errc::NotFound)
        return Error(Errc::NotFound, store.error().message + "; create one with `bwc pki init " +
                                         dir + " --agency NAME` or give the right directory");
    return store;
}

void printIssued(const pki::IssuedCert &issued)
{
    std::cout << "issued " << pki::certKindName(issued.entry.kind) << " certificate for "
              << issued.entry.name << "\n"
              << "  serial:      " << issued.entry.serialHex << "\n"
              << "  valid until: " << formatUtcMs(issued.entry.notAfterUtcMs) << "\n"
              << "  key:         " << issued.keyPath << " (keep it secret)\n"
              << "  certificate: " << issued.certPath << "\n";
}

int issue(std::string_view command, const PkiArgs &args, pki::CertKind kind)
{
    if (auto ok = checkDays("--days", args.days); !ok)
        return fail(command, ok.error());
    if (args.name.empty())
        return fail(command, Error(Errc::Usage, "no name given; say which device, dock or "
                                                "recipient the certificate is for"));
    auto store = openStore(args.dir);
    if (!store)
        return fail(command, store.error());
    Expected<pki::IssuedCert> issued = Error(Errc::Internal, "unreachable");
    switch (kind) {
    case pki::CertKind::Device:
        issued = store->issueDevice(args.name, args.days);
        break;
    case pki::CertKind::Dock:
        issued = store->issueDock(args.name, args.days);
        break;
    default:
        issued = store->issueRecipient(args.name, args.days);
        break;
    }
    if (!issued)
        return fail(command, issued.error());
    printIssued(*issued);
    return kExitOk;
}

} // namespace

int runPkiInit(const PkiArgs &args)
{
    const std::string_view command = "pki init";
    if (auto ok = checkDays("--days", args.days); !ok)
        return fail(command, ok.error());
    if (args.name.empty())
        return fail(command, Error(Errc::Usage, "--agency: empty agency name; give the "
                                                "agency's name, e.g. --agency \"Example PD\""));
    auto store = pki::PkiStore::init(args.dir, args.name, args.days);
    if (!store)
        return fail(command, store.error());
    const crypto::CertInfo &ca = store->caCertInfo();
    std::cout << "created agency PKI in " << store->dir() << "\n"
              << "  CA:          " << ca.subject << "\n"
              << "  serial:      " << ca.serialHex << "\n"
              << "  valid:       " << formatUtcMs(ca.notBeforeUtcMs) << " to "
              << formatUtcMs(ca.notAfterUtcMs) << "\n"
              << "  certificate: " << store->caCertPath() << " (give this to examiners)\n"
              << "  key:         " << store->caKeyPath() << " (keep it offline)\n"
              << "  CRL:         " << store->crlPath() << "\n"
              << "  index:       " << store->indexPath() << "\n";
    return kExitOk;
}

int runPkiIssueDevice(const PkiArgs &args)
{
    return issue("pki issue-device", args, pki::CertKind::Device);
}

int runPkiIssueDock(const PkiArgs &args)
{
    return issue("pki issue-dock", args, pki::CertKind::Dock);
}

int runPkiIssueRecipient(const PkiArgs &args)
{
    return issue("pki issue-recipient", args, pki::CertKind::Recipient);
}

int runPkiRevoke(const PkiArgs &args)
{
    const std::string_view command = "pki revoke";
    if (args.reason.empty())
        return fail(command, Error(Errc::Usage, "--reason: empty; say why the certificate is "
                                                "revoked (it is kept in the index)"));
    auto store = openStore(args.dir);
    if (!store)
        return fail(command, store.error());
    auto entry = store->revoke(args.name, args.reason);
    if (!entry && entry.error().code == Errc::NotFound)
        return fail(command, Error(Errc::NotFound, entry.error().message +
                                                       "; give a name or serial listed in " +
                                                       store->indexPath()));
    if (!entry)
        return fail(command, entry.error());
    std::cout << "revoked " << pki::certKindName(entry->kind) << " certificate " << entry->name
              << "\n"
              << "  serial:  " << entry->serialHex << "\n"
              << "  at:      " << formatUtcMs(entry->revokedUtcMs.value_or(0)) << "\n"
              << "  reason:  " << entry->reason << "\n"
              << "publish it with `bwc pki crl " << args.dir << "`\n";
    return kExitOk;
}

int runPkiCrl(const PkiArgs &args)
{
    const std::string_view command = "pki crl";
    if (auto ok = checkDays("--days", args.days); !ok)
        return fail(command, ok.error());
    auto store = openStore(args.dir);
    if (!store)
        return fail(command, store.error());
    if (auto ok = store->writeCrl(args.days); !ok)
        return fail(command, ok.error());
    size_t revoked = 0;
    for (const pki::IndexEntry &e : store->entries())
        revoked += e.revokedUtcMs.has_value() ? 1 : 0;
    auto backend = crypto::makeOpensslBackend();
    auto crl = backend->parseCrlDer(store->crlDer());
    if (!crl)
        return fail(command, crl.error());
    std::cout << "wrote CRL #" << store->crlNumber() << " to " << store->crlPath() << "\n"
              << "  revoked certificates: " << revoked << "\n"
              << "  this update:          " << formatUtcMs(crl->thisUpdateUtcMs) << "\n"
              << "  next update:          " << formatUtcMs(crl->nextUpdateUtcMs)
              << " (publish a new one before then)\n";
    return kExitOk;
}

} // namespace bwc::cli
