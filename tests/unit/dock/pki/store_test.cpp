// The directory-based agency PKI: init, issue, revoke, CRL, reopen, and damaged
// directories.

#include <filesystem>

#include <sys/stat.h>

#include "common/base/file.h"
#include "common/crypto/pem.h"
#include "dock/pki/pki_store.h"
#include "pki_test_util.h"

namespace bwc::pki::test {
namespace {

class TempDir {
public:
    TempDir()
    {
        // mkdtemp replaces the six trailing X characters.
        std::string pattern =
            (std::filesystem::temp_directory_path() / ("bwc-pki-" + std::string(6, 'X')))
                .string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path_ = pattern;
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    const std::string &path() const { return path_; }

private:
    std::string path_;
};

unsigned modeOf(const std::string &path)
{
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 0777;
}

std::vector<Bytes> pemBlocks(const std::string &path, std::string_view label)
{
    auto blocks = crypto::readPemFile(path, label);
    INFO((blocks.ok() ? std::string() : blocks.error().message));
    REQUIRE(blocks.ok());
    return *blocks;
}

crypto::ChainRequest chainOf(const std::vector<Bytes> &chain, const PkiStore &store,
                             std::vector<Bytes> &crls)
{
    crls = pemBlocks(store.crlPath(), "X509 CRL");
    crypto::ChainRequest r;
    r.leafDer = chain.at(0);
    r.trustAnchorsDer = {store.caCertDer()};
    r.crlsDer = crls;
    r.validityTimeUtcMs = utcNowMs();
    r.nowUtcMs = utcNowMs();
    return r;
}

TEST_CASE("store: init, issue, revoke and publish a CRL, reopened by a later process")
{
    TempDir tmp;
    const std::string dir = tmp.path() + "/agency";
    auto created = PkiStore::init(dir, "Test Agency", 3650);
    INFO((created.ok() ? std::string() : created.error().message));
    REQUIRE(created.ok());
    PkiStore &store = *created;

    CHECK(modeOf(store.caKeyPath()) == 0600);
    CHECK(store.crlNumber() == 1);
    CHECK(store.entries().empty());
    auto caInfo = openssl().parseCertificateDer(store.caCertDer());
    REQUIRE(caInfo.ok());
    CHECK(caInfo->isCa);
    CHECK(caInfo->subject == "CN=Test Agency Root CA,O=Test Agency");
    CHECK(pemBlocks(store.caCertPath(), "CERTIFICATE").at(0) == store.caCertDer());
    auto crlInfo = openssl().parseCrlDer(store.crlDer());
    REQUIRE(crlInfo.ok());
    CHECK(crlInfo->revokedSerialsHex.empty());
    CHECK(crlInfo->nextUpdateUtcMs - crlInfo->thisUpdateUtcMs >= 30 * kDay);

    requireError(PkiStore::init(dir, "Test Agency", 3650), Errc::Exists, {"already"});

    auto device = store.issueDevice("cam-0001", 365);
    INFO((device.ok() ? std::string() : device.error().message));
    REQUIRE(device.ok());
    CHECK(device->keyPath == dir + "/devices/cam-0001.key");
    CHECK(device->certPath == dir + "/devices/cam-0001.pem");
    CHECK(modeOf(device->keyPath) == 0600);
    auto chain = pemBlocks(device->certPath, "CERTIFICATE");
    REQUIRE(chain.size() == 2);
    CHECK(chain[1] == store.caCertDer());
    auto key = openssl().parsePrivateKeyDer(pemBlocks(device->keyPath, "PRIVATE KEY").at(0));
    REQUIRE(key.ok());
    auto leafInfo = openssl().parseCertificateDer(chain[0]);
    REQUIRE(leafInfo.ok());
    CHECK(leafInfo->publicKey == key->pub);
    CHECK(leafInfo->subject == "CN=cam-0001,O=Test Agency");
    CHECK(leafInfo->serialHex == device->entry.serialHex);

    auto dock = store.issueDock("dock-1.agency.example", 365);
    REQUIRE(dock.ok());
    CHECK(pathExists(dir + "/docks/dock-1.agency.example.pem"));
    auto recipient = store.issueRecipient("evidence-2026", 3650);
    REQUIRE(recipient.ok());
    auto recipientChain = pemBlocks(recipient->certPath, "CERTIFICATE");
    auto recipientInfo = openssl().parseCertificateDer(recipientChain.at(0));
    REQUIRE(recipientInfo.ok());
    // Capped at the CA's own expiry.
    CHECK(recipientInfo->notAfterUtcMs <= caInfo->notAfterUtcMs);

    SECTION("issuing again for the same name is refused")
    {
        requireError(store.issueDevice("cam-0001", 365), Errc::Exists,
                     {"cam-0001", "already", "revoke"});
        std::filesystem::remove(device->keyPath);
        std::filesystem::remove(device->certPath);
        requireError(store.issueDevice("cam-0001", 365), Errc::Exists,
                     {"cam-0001", "still valid", "revoke"});
    }

    SECTION("a name shared by two kinds of certificate needs the serial")
    {
        REQUIRE(store.issueRecipient("cam-0001", 30).ok());
        requireError(store.revoke("cam-0001", "lost"), Errc::Usage,
                     {"serial", "device", "recipient"});
    }

    SECTION("a failed write leaves nothing behind and can be retried")
    {
        std::filesystem::remove_all(dir + "/recipients");
        REQUIRE(
            atomicReplace(dir + "/recipients", asBytes("a file where a directory belongs")).ok());
        auto failed = store.issueRecipient("evidence-2027", 30);
        REQUIRE_FALSE(failed.ok());
        CHECK(failed.error().code == Errc::Io);
        auto reopened = PkiStore::open(dir);
        REQUIRE(reopened.ok());
        CHECK(reopened->entries().size() == 3);
        std::filesystem::remove(dir + "/recipients");
        auto retried = store.issueRecipient("evidence-2027", 30);
        INFO((retried.ok() ? std::string() : retried.error().message));
        CHECK(retried.ok());
    }

    SECTION("bad names and periods are refused")
    {
        requireError(store.issueDevice("../escape", 365), Errc::Usage, {"../escape"});
        requireError(store.issueDevice("", 365), Errc::Usage, {});
        requireError(store.issueDock("dock_underscore", 30), Errc::Usage, {"DNS"});
        requireError(store.issueDevice("cam-0002", 0), Errc::Usage, {"days"});
    }

    SECTION("the chain verifies with both backends until it is revoked")
    {
        std::vector<Bytes> crls;
        auto request = chainOf(chain, store, crls);
        for (const std::string &name : backendNames()) {
            INFO("backend " << name);
            auto verified = backendNamed(name).verifyCertChain(request);
            INFO((verified.ok() ? std::string() : verified.error().message));
            CHECK(verified.ok());
        }

        auto revoked = store.revoke("cam-0001", "camera lost on patrol");
        INFO((revoked.ok() ? std::string() : revoked.error().message));
        REQUIRE(revoked.ok());
        CHECK(revoked->serialHex == device->entry.serialHex);
        CHECK(revoked->revokedUtcMs.has_value());
        requireError(store.revoke(device->entry.serialHex, "again"), Errc::Exists,
                     {"already revoked"});
        requireError(store.revoke("cam-unknown", "x"), Errc::NotFound, {"cam-unknown"});

        // Not published yet: the old CRL still passes it.
        request = chainOf(chain, store, crls);
        CHECK(openssl().verifyCertChain(request).ok());

        auto written = store.writeCrl(7);
        INFO((written.ok() ? std::string() : written.error().message));
        REQUIRE(written.ok());
        CHECK(store.crlNumber() == 2);
        request = chainOf(chain, store, crls);
        for (const std::string &name : backendNames()) {
            INFO("backend " << name);
            requireError(backendNamed(name).verifyCertChain(request), Errc::Cert,
                         {"revoked", device->entry.serialHex});
        }
        auto dockChain = pemBlocks(dock->certPath, "CERTIFICATE");
        request.leafDer = dockChain.at(0);
        CHECK(openssl().verifyCertChain(request).ok());

        // A later process sees the same state.
        auto reopened = PkiStore::open(dir);
        INFO((reopened.ok() ? std::string() : reopened.error().message));
        REQUIRE(reopened.ok());
        CHECK(reopened->caCertDer() == store.caCertDer());
        CHECK(reopened->crlDer() == store.crlDer());
        CHECK(reopened->crlNumber() == 2);
        REQUIRE(reopened->entries().size() == 3);
        const IndexEntry &first = reopened->entries().at(0);
        CHECK(first.kind == CertKind::Device);
        CHECK(first.name == "cam-0001");
        CHECK(first.serialHex == device->entry.serialHex);
        CHECK(first.revokedUtcMs == revoked->revokedUtcMs);
        CHECK(first.reason == "camera lost on patrol");
        CHECK(reopened->entries().at(1).kind == CertKind::Dock);
        CHECK_FALSE(reopened->entries().at(1).revokedUtcMs.has_value());
        CHECK(reopened->entries().at(2).kind == CertKind::Recipient);

        // Revoking by serial, in the upper-case colon form other tools print.
        std::string upper;
        for (size_t i = 0; i < dock->entry.serialHex.size(); i += 2) {
            if (i)
                upper += ':';
            for (char c : dock->entry.serialHex.substr(i, 2))
                upper += char(std::toupper(static_cast<unsigned char>(c)));
        }
        REQUIRE(reopened->revoke(upper, "").ok());
        REQUIRE(reopened->writeCrl(7).ok());
        CHECK(reopened->crlNumber() == 3);
        auto crl = openssl().parseCrlDer(reopened->crlDer());
        REQUIRE(crl.ok());
        CHECK(crl->revokedSerialsHex.size() == 2);

        // The first store object re-reads the directory before it writes.
        REQUIRE(store.writeCrl(7).ok());
        CHECK(store.crlNumber() == 4);
        auto latest = openssl().parseCrlDer(store.crlDer());
        REQUIRE(latest.ok());
        CHECK(latest->revokedSerialsHex.size() == 2);

        // With the device revoked, the name can be issued again once its files are gone.
        std::filesystem::remove(device->keyPath);
        std::filesystem::remove(device->certPath);
        auto again = store.issueDevice("cam-0001", 30);
        INFO((again.ok() ? std::string() : again.error().message));
        REQUIRE(again.ok());
        CHECK(again->entry.serialHex != device->entry.serialHex);
        // By name, only the certificate that is not yet revoked matches.
        auto second = store.revoke("cam-0001", "");
        REQUIRE(second.ok());
        CHECK(second->serialHex == again->entry.serialHex);
    }
}

TEST_CASE("store: directories that are not an agency PKI")
{
    TempDir tmp;
    requireError(PkiStore::open(tmp.path() + "/missing"), Errc::NotFound,
                 {"missing", "bwc pki init"});
    requireError(PkiStore::open(tmp.path()), Errc::NotFound,
                 {"not an agency PKI", "no ca.pem", "bwc pki init"});

    const std::string dir = tmp.path() + "/agency";
    REQUIRE(PkiStore::init(dir, "Test Agency", 365).ok());
    REQUIRE(PkiStore::open(dir).ok());

    SECTION("garbage certificate")
    {
        REQUIRE(atomicReplace(dir + "/ca.pem", asBytes("not a pem file\n")).ok());
        requireError(PkiStore::open(dir), Errc::Format, {"ca.pem"});
    }
    SECTION("a certificate that is not PEM-armoured DER")
    {
        REQUIRE(atomicReplace(dir + "/ca.pem",
                              asBytes(crypto::toPem("CERTIFICATE", toBytes("garbage"))))
                    .ok());
        requireError(PkiStore::open(dir), Errc::Format, {"ca.pem"});
    }
    SECTION("key of another CA")
    {
        const std::string other = tmp.path() + "/other";
        REQUIRE(PkiStore::init(other, "Other Agency", 365).ok());
        std::filesystem::copy_file(other + "/ca.key", dir + "/ca.key",
                                   std::filesystem::copy_options::overwrite_existing);
        requireError(PkiStore::open(dir), Errc::Format, {"ca.key", "does not belong"});
    }
    SECTION("missing key")
    {
        std::filesystem::remove(dir + "/ca.key");
        auto opened = PkiStore::open(dir);
        REQUIRE_FALSE(opened.ok());
        CHECK(containsNoCase(opened.error().message, "ca.key"));
    }
    SECTION("damaged index")
    {
        REQUIRE(atomicReplace(dir + "/index.txt", asBytes("bwc-pki-index 1\ndevice cam-1 zz 0 -\n"))
                    .ok());
        requireError(PkiStore::open(dir), Errc::Format, {"index.txt", "line 2", "serial"});
        REQUIRE(atomicReplace(dir + "/index.txt", asBytes("something else\n")).ok());
        requireError(PkiStore::open(dir), Errc::Format, {"index.txt", "line 1"});
    }
    SECTION("CRL of another CA")
    {
        const std::string other = tmp.path() + "/other";
        REQUIRE(PkiStore::init(other, "Other Agency", 365).ok());
        std::filesystem::copy_file(other + "/crl.pem", dir + "/crl.pem",
                                   std::filesystem::copy_options::overwrite_existing);
        requireError(PkiStore::open(dir), Errc::Format, {"crl.pem", "Other Agency"});
    }
}

TEST_CASE("store: certificates and CRLs follow an injected clock")
{
    TempDir tmp;
    auto clock = std::make_shared<ManualClock>(kT0);
    auto store = PkiStore::init(tmp.path() + "/agency", "Clock Agency", 100, clock);
    REQUIRE(store.ok());
    auto device = store->issueDevice("cam-0001", 10);
    REQUIRE(device.ok());
    CHECK(device->entry.notAfterUtcMs == kT0 + 10 * kDay);
    auto info = openssl().parseCertificateDer(pemBlocks(device->certPath, "CERTIFICATE").at(0));
    REQUIRE(info.ok());
    CHECK(info->notBeforeUtcMs <= kT0);
    CHECK(info->notBeforeUtcMs > kT0 - kDay);

    // Capped at the CA's expiry, and refused once the CA has expired.
    auto capped = store->issueDevice("cam-0002", 1000);
    REQUIRE(capped.ok());
    CHECK(capped->entry.notAfterUtcMs ==
          openssl().parseCertificateDer(store->caCertDer())->notAfterUtcMs);
    clock->setUtcMs(kT0 + 101 * kDay);
    requireError(store->issueDevice("cam-0003", 10), Errc::Cert, {"expired", "bwc pki init"});

    REQUIRE(store->writeCrl(3).ok());
    auto crl = openssl().parseCrlDer(store->crlDer());
    REQUIRE(crl.ok());
    CHECK(crl->nextUpdateUtcMs == kT0 + 104 * kDay);
}

} // namespace
} // namespace bwc::pki::test
