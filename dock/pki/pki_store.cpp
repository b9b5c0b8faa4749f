#include "dock/pki/pki_store.h"

#include <algorithm>
#include <cerrno>
#include <charconv>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/base/file.h"
#include "common/base/unique_fd.h"
#include "common/crypto/pem.h"
#include "common/crypto/platform/openssl/openssl_util.h"

namespace bwc::pki {

namespace {

constexpr int64_t kDayMs = 86'400'000;
// Certificates start, and CRLs are dated, this much in the past so that a peer whose
// clock is a little behind does not see them as not yet valid.
constexpr int64_t kClockSkewMs = 5 * 60 * 1000;
constexpr int kMaxDays = 36500;
constexpr int kInitialCrlDays = 30;
constexpr const char *kIndexHeader = "bwc-pki-index 1";
// "<agency> Root CA" must fit the 64-character commonName.
constexpr size_t kMaxAgencyNameChars = 56;

std::string kindDirectory(CertKind kind)
{
    switch (kind) {
    case CertKind::Device:
        return "devices";
    case CertKind::Dock:
        return "docks";
    case CertKind::Recipient:
        return "recipients";
    case CertKind::RootCa:
        break;
    }
    return "ca";
}

std::optional<CertKind> kindFromName(std::string_view name)
{
    for (CertKind kind : {CertKind::Device, CertKind::Dock, CertKind::Recipient})
        if (certKindName(kind) == name)
            return kind;
    return std::nullopt;
}

// What a name for a device, dock or recipient may be: it becomes a file name.
Expected<void> checkEntityName(CertKind kind, const std::string &name)
{
    bool ok = !name.empty() && name.size() <= 64 && name.front() != '.' && name.front() != '-';
    for (char c : name)
        ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-');
    if (!ok)
        return Error(Errc::Usage, std::string(certKindName(kind)) + " name '" + name +
                                      "' is not usable: use 1-64 letters, digits, '.', '_' or "
                                      "'-', not starting with '.' or '-'");
    return {};
}

Expected<void> checkDays(std::string_view what, int days)
{
    if (days < 1 || days > kMaxDays)
        return Error(Errc::Usage, std::string(what) + ": validity must be 1 to " +
                                      std::to_string(kMaxDays) + " days (got " +
                                      std::to_string(days) + ")");
    return {};
}

// Serials as the user may type them: any case, optional "0x" or ':' separators, leading
// zero bytes.
std::string normalizeSerial(std::string_view text)
{
    std::string out;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
        text.remove_prefix(2);
    for (char c : text) {
        if (c == ':')
            continue;
        out.push_back(char(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c));
    }
    if (out.size() % 2)
        out.insert(out.begin(), '0');
    while (out.size() > 2 && out.compare(0, 2, "00") == 0)
        out.erase(0, 2);
    return out;
}

std::string oneLine(std::string_view text)
{
    std::string out(text);
    for (char &c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            c = ' ';
    return out;
}

std::optional<int64_t> parseInt(std::string_view text)
{
    int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty())
        return std::nullopt;
    return value;
}

Expected<UniqueFd> lockDirectory(const std::string &dir)
{
    std::string path = dir + "/.lock";
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd.isValid())
        return Error(Errc::Io, path + ": cannot open the PKI lock file: " + errnoText(errno));
    while (::flock(fd.get(), LOCK_EX) != 0) {
        if (errno != EINTR)
            return Error(Errc::Io, path + ": cannot lock the PKI directory: " + errnoText(errno));
    }
    return fd;
}

// Private keys: mode 0600, and never through a stale temporary that might have looser
// permissions.
Expected<void> writePrivateKey(const std::string &path, const crypto::P256KeyPair &key)
{
    Bytes der = crypto::p256Pkcs8Der(key);
    std::string pem = crypto::toPem("PRIVATE KEY", der);
    secureZero(der.data(), der.size());
    ::unlink((path + ".tmp").c_str());
    auto r = atomicReplace(path, asBytes(pem), 0600);
    secureZero(pem.data(), pem.size());
    return r;
}

std::string organizationOf(ByteView certDer)
{
    using namespace crypto::ossl;
    const unsigned char *p = certDer.data();
    X509Ptr cert(d2i_X509(nullptr, &p, long(certDer.size())));
    if (!cert) {
        drainErrors();
        return "";
    }
    const X509_NAME *name = X509_get_subject_name(cert.get());
    int index = X509_NAME_get_index_by_NID(name, NID_organizationName, -1);
    if (index < 0)
        return "";
    unsigned char *utf8 = nullptr;
    int len =
        ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index)));
    OpensslBuf owner(utf8);
    if (len < 0) {
        drainErrors();
        return "";
    }
    return std::string(reinterpret_cast<const char *>(utf8), size_t(len));
}

std::string describeEntry(const IndexEntry &e)
{
    return std::string(certKindName(e.kind)) + " " + e.name + " (serial " + e.serialHex + ")";
}

} // namespace

PkiStore::PkiStore(std::string dir, std::shared_ptr<const Clock> clock)
    : dir_(std::move(dir)), clock_(std::move(clock)), backend_(crypto::makeOpensslBackend())
{
    if (!clock_)
        clock_ = std::make_shared<SystemClock>();
    while (dir_.size() > 1 && dir_.back() == '/')
        dir_.pop_back();
}

std::string PkiStore::keyPath(CertKind kind, const std::string &name) const
{
    return dir_ + "/" + kindDirectory(kind) + "/" + name + ".key";
}

std::string PkiStore::certPath(CertKind kind, const std::string &name) const
{
    return dir_ + "/" + kindDirectory(kind) + "/" + name + ".pem";
}

Expected<PkiStore> PkiStore::init(const std::string &dir, const std::string &agencyName,
                                  int validityDays, std::shared_ptr<const Clock> clock)
{
    if (agencyName.empty() || agencyName.size() > kMaxAgencyNameChars)
        return Error(Errc::Usage, "agency name must be 1 to " +
                                      std::to_string(kMaxAgencyNameChars) + " characters");
    BWC_TRY(checkDays("agency CA", validityDays));
    PkiStore store(dir, std::move(clock));
    if (pathExists(store.caCertPath()))
        return Error(Errc::Exists, store.dir_ + ": already holds an agency PKI (" +
                                       store.caCertPath() +
                                       " exists); use it, or choose another directory");
    BWC_TRY(makeDirectories(store.dir_, 0700));
    BWC_ASSIGN(lock, lockDirectory(store.dir_));
    if (pathExists(store.caCertPath()))
        return Error(Errc::Exists, store.dir_ + ": another `bwc pki init` created an agency PKI "
                                                "here meanwhile");

    int64_t now = store.clock_->utcMs();
    BWC_ASSIGN(key, store.backend_->p256Generate());
    BWC_ASSIGN(caDer, createRootCa(key, agencyName + " Root CA", agencyName, now - kClockSkewMs,
                                   now + int64_t(validityDays) * kDayMs));
    BWC_ASSIGN(crl, createCrl(Issuer{caDer, key}, {}, now - kClockSkewMs,
                              now + kInitialCrlDays * kDayMs, 1));
    BWC_ASSIGN(info, store.backend_->parseCertificateDer(caDer));
    store.caCertDer_ = std::move(caDer);
    store.caInfo_ = std::move(info);
    store.caKey_ = key;
    store.crlDer_ = std::move(crl);
    store.crlNumber_ = 1;

    // ca.pem last: its presence is what makes the directory an agency PKI.
    BWC_TRY(writePrivateKey(store.caKeyPath(), store.caKey_));
    BWC_TRY(store.writeIndex());
    BWC_TRY(atomicReplace(store.crlPath(), asBytes(crypto::toPem("X509 CRL", store.crlDer_))));
    BWC_TRY(
        atomicReplace(store.caCertPath(), asBytes(crypto::toPem("CERTIFICATE", store.caCertDer_))));
    return store;
}

Expected<PkiStore> PkiStore::open(const std::string &dir, std::shared_ptr<const Clock> clock)
{
    PkiStore store(dir, std::move(clock));
    if (!pathExists(store.dir_))
        return Error(Errc::NotFound, store.dir_ + ": no such directory; create an agency PKI "
                                                  "with `bwc pki init`");
    if (!pathExists(store.caCertPath()))
        return Error(Errc::NotFound, store.dir_ + ": not an agency PKI (no ca.pem); create one "
                                                  "with `bwc pki init`");
    BWC_TRY(store.load());
    return store;
}

Expected<void> PkiStore::load()
{
    BWC_ASSIGN(certs, crypto::readPemFile(caCertPath(), "CERTIFICATE"));
    auto info = backend_->parseCertificateDer(certs.front());
    if (!info)
        return std::move(info).error().context(caCertPath());
    if (!info->isCa)
        return Error(Errc::Format, caCertPath() + ": not a CA certificate; the agency PKI "
                                                  "directory is damaged");
    caCertDer_ = std::move(certs.front());
    caInfo_ = std::move(*info);

    BWC_ASSIGN(keys, crypto::readPemFile(caKeyPath(), "PRIVATE KEY"));
    auto key = backend_->parsePrivateKeyDer(keys.front());
    for (Bytes &k : keys)
        secureZero(k.data(), k.size());
    if (!key)
        return std::move(key).error().context(caKeyPath());
    if (key->pub != caInfo_.publicKey)
        return Error(Errc::Format, caKeyPath() + " does not belong to " + caCertPath() +
                                       " (different key); the agency PKI directory is damaged");
    caKey_ = *key;

    BWC_TRY(loadCrl());
    return loadIndex();
}

Expected<void> PkiStore::loadCrl()
{
    BWC_ASSIGN(crls, crypto::readPemFile(crlPath(), "X509 CRL"));
    auto info = backend_->parseCrlDer(crls.front());
    if (!info)
        return std::move(info).error().context(crlPath());
    if (info->issuer != caInfo_.subject)
        return Error(Errc::Format, crlPath() + ": issued by " + info->issuer +
                                       ", not by this "
                                       "agency CA " +
                                       caInfo_.subject + "; write a new one with `bwc pki crl`");
    auto number = crlNumberOf(crls.front());
    if (!number)
        return std::move(number).error().context(crlPath());
    crlDer_ = std::move(crls.front());
    crlNumber_ = *number;
    return {};
}

Expected<void> PkiStore::loadIndex()
{
    const std::string path = indexPath();
    BWC_ASSIGN(text, readTextFile(path));
    std::vector<IndexEntry> entries;
    size_t lineNo = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos)
            end = text.size();
        std::string_view line(text.data() + pos, end - pos);
        pos = end + 1;
        ++lineNo;
        auto bad = [&](const std::string &why) {
            return Error(Errc::Format, path + ": line " + std::to_string(lineNo) + ": " + why +
                                           "; the agency PKI index is damaged");
        };
        if (lineNo == 1) {
            if (line != kIndexHeader)
                return bad("not a bwc PKI index (expected '" + std::string(kIndexHeader) + "')");
            continue;
        }
        if (line.empty())
            continue;
        std::string_view fields[5];
        for (auto &field : fields) {
            size_t space = line.find(' ');
            field = line.substr(0, space);
            line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
        }
        IndexEntry e;
        auto kind = kindFromName(fields[0]);
        if (!kind)
            return bad("unknown certificate kind '" + std::string(fields[0]) + "'");
        e.kind = *kind;
        e.name = std::string(fields[1]);
        if (!checkEntityName(e.kind, e.name))
            return bad("invalid name '" + e.name + "'");
        e.serialHex = std::string(fields[2]);
        if (e.serialHex.empty() || normalizeSerial(e.serialHex) != e.serialHex ||
            !fromHex(e.serialHex))
            return bad("invalid serial '" + e.serialHex + "'");
        auto notAfter = parseInt(fields[3]);
        if (!notAfter)
            return bad("invalid expiry time '" + std::string(fields[3]) + "'");
        e.notAfterUtcMs = *notAfter;
        if (fields[4] != "-") {
            auto revoked = parseInt(fields[4]);
            if (!revoked)
                return bad("invalid revocation time '" + std::string(fields[4]) + "'");
            e.revokedUtcMs = *revoked;
        }
        e.reason = std::string(line);
        entries.push_back(std::move(e));
    }
    if (lineNo == 0)
        return Error(Errc::Format, path + ": empty; the agency PKI index is damaged");
    entries_ = std::move(entries);
    return {};
}

Expected<void> PkiStore::writeIndex() const
{
    std::string text = std::string(kIndexHeader) + "\n";
    for (const IndexEntry &e : entries_) {
        text.append(certKindName(e.kind)).append(" ").append(e.name).append(" ");
        text.append(e.serialHex).append(" ").append(std::to_string(e.notAfterUtcMs)).append(" ");
        text.append(e.revokedUtcMs ? std::to_string(*e.revokedUtcMs) : std::string("-"));
        if (!e.reason.empty())
            text.append(" ").append(oneLine(e.reason));
        text += "\n";
    }
    return atomicReplace(indexPath(), asBytes(text));
}

Expected<IssuedCert> PkiStore::issueDevice(const std::string &deviceId, int days)
{
    return issue(CertKind::Device, deviceId, days);
}

Expected<IssuedCert> PkiStore::issueDock(const std::string &dockId, int days)
{
    return issue(CertKind::Dock, dockId, days);
}

Expected<IssuedCert> PkiStore::issueRecipient(const std::string &name, int days)
{
    return issue(CertKind::Recipient, name, days);
}

Expected<IssuedCert> PkiStore::issue(CertKind kind, const std::string &name, int days)
{
    const std::string kindName(certKindName(kind));
    BWC_TRY(checkEntityName(kind, name));
    BWC_TRY(checkDays(kindName + " " + name, days));
    BWC_ASSIGN(lock, lockDirectory(dir_));
    BWC_TRY(loadIndex());

    IssuedCert out;
    out.keyPath = keyPath(kind, name);
    out.certPath = certPath(kind, name);
    std::string replaceHint = "to replace it, revoke it (`bwc pki revoke " + name +
                              "`), publish a CRL (`bwc pki crl`) and remove " + out.keyPath +
                              " and " + out.certPath + " first";
    for (const std::string &path : {out.keyPath, out.certPath})
        if (pathExists(path))
            return Error(Errc::Exists, path + " already exists: " + kindName + " " + name +
                                           " already has a key and certificate; " + replaceHint);
    int64_t now = clock_->utcMs();
    for (const IndexEntry &e : entries_)
        if (e.kind == kind && e.name == name && !e.revokedUtcMs && e.notAfterUtcMs > now)
            return Error(Errc::Exists, describeEntry(e) + " is still valid until " +
                                           formatUtcMs(e.notAfterUtcMs) + "; " + replaceHint);
    if (caInfo_.notAfterUtcMs <= now)
        return Error(Errc::Cert, "the agency CA " + caInfo_.subject + " expired at " +
                                     formatUtcMs(caInfo_.notAfterUtcMs) +
                                     "; create a new agency PKI with `bwc pki init`");

    BWC_ASSIGN(key, backend_->p256Generate());
    CertRequest request;
    request.kind = kind;
    request.commonName = name;
    request.organization = organizationOf(caCertDer_);
    request.publicKey = key.pub;
    request.notBeforeUtcMs = now - kClockSkewMs;
    request.notAfterUtcMs = std::min(now + int64_t(days) * kDayMs, caInfo_.notAfterUtcMs);
    BWC_ASSIGN(certDer, issueCertificate(Issuer{caCertDer_, caKey_}, request));
    BWC_ASSIGN(info, backend_->parseCertificateDer(certDer));

    out.entry.kind = kind;
    out.entry.name = name;
    out.entry.serialHex = info.serialHex;
    out.entry.notAfterUtcMs = info.notAfterUtcMs;
    // The index first: a certificate that exists anywhere must be revocable by name.
    entries_.push_back(out.entry);
    auto written = writeIndex();
    if (!written) {
        entries_.pop_back();
        return std::move(written).error();
    }
    auto filesWritten = [&]() -> Expected<void> {
        BWC_TRY(makeDirectories(dir_ + "/" + kindDirectory(kind), 0700));
        BWC_TRY(writePrivateKey(out.keyPath, key));
        std::string chain =
            crypto::toPem("CERTIFICATE", certDer) + crypto::toPem("CERTIFICATE", caCertDer_);
        return atomicReplace(out.certPath, asBytes(chain));
    }();
    if (!filesWritten) {
        // Nothing was handed out: forget the certificate again, so the name can be retried.
        ::unlink(out.keyPath.c_str());
        entries_.pop_back();
        auto rolledBack = writeIndex();
        if (!rolledBack)
            return Error(filesWritten.error().code,
                         filesWritten.error().message + "; also, " + rolledBack.error().message +
                             ": revoke serial " + out.entry.serialHex + " before issuing " +
                             kindName + " " + name + " again");
        return std::move(filesWritten).error();
    }
    return out;
}

Expected<IndexEntry> PkiStore::revoke(const std::string &nameOrSerial, const std::string &reason)
{
    BWC_ASSIGN(lock, lockDirectory(dir_));
    BWC_TRY(loadIndex());
    std::vector<IndexEntry *> matches;
    std::string serial = normalizeSerial(nameOrSerial);
    for (IndexEntry &e : entries_)
        if (e.serialHex == serial)
            matches.push_back(&e);
    if (matches.empty()) {
        std::vector<IndexEntry *> revokedByName;
        for (IndexEntry &e : entries_) {
            if (e.name != nameOrSerial)
                continue;
            (e.revokedUtcMs ? revokedByName : matches).push_back(&e);
        }
        if (matches.empty() && !revokedByName.empty())
            matches.push_back(revokedByName.back());
    }
    if (matches.empty())
        return Error(Errc::NotFound, "no certificate named or with serial '" + nameOrSerial +
                                         "' in " + indexPath());
    if (matches.size() > 1) {
        std::string list;
        for (const IndexEntry *e : matches)
            list += (list.empty() ? "" : ", ") + describeEntry(*e);
        return Error(Errc::Usage, "'" + nameOrSerial + "' matches " +
                                      std::to_string(matches.size()) + " certificates (" + list +
                                      "); give the serial of the one to revoke");
    }
    IndexEntry &entry = *matches.front();
    if (entry.revokedUtcMs)
        return Error(Errc::Exists, describeEntry(entry) + " was already revoked at " +
                                       formatUtcMs(*entry.revokedUtcMs) +
                                       "; publish a CRL with `bwc pki crl` if not done yet");
    entry.revokedUtcMs = clock_->utcMs();
    entry.reason = oneLine(reason);
    IndexEntry result = entry;
    auto written = writeIndex();
    if (!written) {
        BWC_TRY(loadIndex());
        return std::move(written).error();
    }
    return result;
}

Expected<void> PkiStore::writeCrl(int days)
{
    BWC_TRY(checkDays("CRL", days));
    BWC_ASSIGN(lock, lockDirectory(dir_));
    BWC_TRY(loadIndex());
    BWC_TRY(loadCrl());
    std::vector<Revocation> revoked;
    for (const IndexEntry &e : entries_)
        if (e.revokedUtcMs)
            revoked.push_back({e.serialHex, *e.revokedUtcMs});
    int64_t now = clock_->utcMs();
    BWC_ASSIGN(crl, createCrl(Issuer{caCertDer_, caKey_}, revoked, now - kClockSkewMs,
                              now + int64_t(days) * kDayMs, crlNumber_ + 1));
    BWC_TRY(atomicReplace(crlPath(), asBytes(crypto::toPem("X509 CRL", crl))));
    crlDer_ = std::move(crl);
    ++crlNumber_;
    return {};
}

} // namespace bwc::pki
