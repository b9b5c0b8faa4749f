// Verification reports: plain text for print and court, JSON for tools.

#include "dock/verify/verify.h"

#include <cstdio>

#include "common/base/clock.h"

namespace bwc::verify {

namespace {

std::string timeText(int64_t utcMs)
{
    return utcMs == 0 ? std::string("(not recorded)") : formatUtcMs(utcMs);
}

std::string orNone(const std::string &text)
{
    return text.empty() ? std::string("(none)") : text;
}

std::string failedSummary(const Report &report, size_t &count)
{
    std::string names;
    count = 0;
    auto add = [&](const std::string &prefix, const Check &check) {
        if (check.status != Status::Fail)
            return;
        ++count;
        names += (names.empty() ? "" : ", ") + prefix + check.name;
    };
    for (const Check &check : report.bundleChecks)
        add("bundle ", check);
    for (const ClipReport &clip : report.clips)
        for (const Check &check : clip.checks)
            add("clip " + (clip.clipUuid.empty() ? clip.clipPath : clip.clipUuid) + " ", check);
    return names;
}

// A required check that did not pass without failing (a report with nothing verified).
std::string notPassedReason(const Report &report)
{
    if (report.clips.empty() && report.bundleChecks.empty())
        return "nothing was verified";
    for (const ClipReport &clip : report.clips)
        if (!clip.passed())
            return "clip " + (clip.clipUuid.empty() ? clip.clipPath : clip.clipUuid) +
                   ": a required check did not pass";
    return "a required check did not pass";
}

void appendCheckLine(std::string &out, const Check &check)
{
    out += "  ";
    out += statusName(check.status);
    out += std::string(8 - std::min<size_t>(7, statusName(check.status).size()), ' ');
    out += check.name + ": " + check.detail + "\n";
}

void appendCert(std::string &out, const char *label, const crypto::CertInfo &cert)
{
    out += std::string("  ") + label + ":\n";
    if (cert.subject.empty()) {
        out += "    (not available)\n";
        return;
    }
    out += "    subject:      " + cert.subject + "\n";
    out += "    issuer:       " + cert.issuer + "\n";
    out += "    serial:       " + cert.serialHex + "\n";
    out += "    valid:        " + formatUtcMs(cert.notBeforeUtcMs) + " to " +
           formatUtcMs(cert.notAfterUtcMs) + "\n";
    out += "    SHA-256:      " + toHex(cert.certSha256) + "\n";
}

// JSON writer with a fixed key order, given by the order of the calls.
class JsonWriter {
public:
    std::string take() { return std::move(out_); }

    void beginObject()
    {
        separator();
        out_ += '{';
        first_ = true;
        ++depth_;
    }
    void endObject()
    {
        --depth_;
        newline();
        out_ += '}';
        first_ = false;
    }
    void beginArray()
    {
        separator();
        out_ += '[';
        first_ = true;
        ++depth_;
    }
    void endArray()
    {
        --depth_;
        newline();
        out_ += ']';
        first_ = false;
    }
    void key(std::string_view k)
    {
        separator();
        string(k);
        out_ += ": ";
        afterKey_ = true;
    }
    void value(std::string_view s)
    {
        separator();
        string(s);
    }
    void value(const char *s) { value(std::string_view(s)); }
    void value(int64_t n)
    {
        separator();
        out_ += std::to_string(n);
    }
    void value(uint64_t n)
    {
        separator();
        out_ += std::to_string(n);
    }
    void value(uint32_t n) { value(uint64_t(n)); }
    void value(bool b)
    {
        separator();
        out_ += b ? "true" : "false";
    }
    void null()
    {
        separator();
        out_ += "null";
    }

    template <typename T> void field(std::string_view k, const T &v)
    {
        key(k);
        value(v);
    }

private:
    void newline()
    {
        out_ += '\n';
        out_.append(size_t(depth_) * 2, ' ');
    }
    void separator()
    {
        if (afterKey_) {
            afterKey_ = false;
            return;
        }
        if (depth_ == 0)
            return;
        if (!first_)
            out_ += ',';
        first_ = false;
        newline();
    }
    // Escapes quotes, backslashes and control characters; other bytes (UTF-8 text)
    // pass through unchanged.
    void string(std::string_view s)
    {
        out_ += '"';
        for (char ch : s) {
            const auto c = static_cast<unsigned char>(ch);
            switch (c) {
            case '"':
                out_ += "\\\"";
                break;
            case '\\':
                out_ += "\\\\";
                break;
            case '\n':
                out_ += "\\n";
                break;
            case '\r':
                out_ += "\\r";
                break;
            case '\t':
                out_ += "\\t";
                break;
            case '\b':
                out_ += "\\b";
                break;
            case '\f':
                out_ += "\\f";
                break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof(buf), "\\u%04x", unsigned(c));
                    out_ += buf;
                } else {
                    out_ += ch;
                }
            }
        }
        out_ += '"';
    }

    std::string out_;
    int depth_ = 0;
    bool first_ = true;
    bool afterKey_ = false;
};

void writeCert(JsonWriter &w, const crypto::CertInfo &cert)
{
    if (cert.subject.empty()) {
        w.null();
        return;
    }
    w.beginObject();
    w.field("subject", cert.subject);
    w.field("subject_common_name", cert.subjectCommonName);
    w.field("issuer", cert.issuer);
    w.field("serial", cert.serialHex);
    w.field("not_before", formatUtcMs(cert.notBeforeUtcMs));
    w.field("not_after", formatUtcMs(cert.notAfterUtcMs));
    w.field("is_ca", cert.isCa);
    w.field("sha256_fingerprint", toHex(cert.certSha256));
    w.field("spki_sha256", toHex(cert.spkiSha256));
    w.endObject();
}

void writeChecks(JsonWriter &w, const std::vector<Check> &checks)
{
    w.beginArray();
    for (const Check &check : checks) {
        w.beginObject();
        w.field("name", check.name);
        w.field("status", statusName(check.status));
        w.field("detail", check.detail);
        w.endObject();
    }
    w.endArray();
}

void writeTime(JsonWriter &w, std::string_view key, int64_t utcMs)
{
    w.key(key);
    if (utcMs == 0)
        w.null();
    else
        w.value(formatUtcMs(utcMs));
}

} // namespace

std::string renderText(const Report &report)
{
    std::string out;
    out += "BODY-WORN CAMERA EVIDENCE VERIFICATION REPORT\n";
    out += "=============================================\n\n";
    out += "Tool:      " + orNone(report.toolVersion) + "\n";
    out += "Examiner:  " + orNone(report.examiner) + "\n";
    out += "Date:      " + timeText(report.createdUtcMs) + "\n";
    out += "Subject:   " + orNone(report.subject) + "\n";

    if (!report.bundleChecks.empty()) {
        out += "\nBundle checks\n";
        for (const Check &check : report.bundleChecks)
            appendCheckLine(out, check);
    }

    for (size_t i = 0; i < report.clips.size(); ++i) {
        const ClipReport &clip = report.clips[i];
        std::string title =
            "Clip " + std::to_string(i + 1) + " of " + std::to_string(report.clips.size());
        out += "\n" + title + "\n" + std::string(title.size(), '-') + "\n";
        out += "  file:               " + clip.clipPath + "\n";
        out += "  device:             " + orNone(clip.deviceId) + "\n";
        appendCert(out, "device certificate", clip.deviceCert);
        out += "  CA certificate:     " +
               (clip.caCert.subject.empty()
                    ? std::string("(not identified)")
                    : clip.caCert.subject + ", SHA-256 " + toHex(clip.caCert.certSha256)) +
               "\n";
        out += "  revocation status:  " + orNone(clip.revocationStatus) + "\n";
        out += "  clip uuid:          " + orNone(clip.clipUuid) + "\n";
        out += "  seq:                " + std::to_string(clip.seq) + "\n";
        out += "  kind:               " + orNone(clip.kind) + "\n";
        out += "  officer:            " + orNone(clip.officerId) + "\n";
        out += "  start:              " + timeText(clip.startUtcMs) + "\n";
        out += "  end:                " + timeText(clip.endUtcMs) + "\n";
        out += "  signed:             " + timeText(clip.signedUtcMs) + "\n";
        out += "  clock source:       " + orNone(clip.clockSource) + ", estimated error " +
               std::to_string(clip.clockErrorMs) + " ms\n";
        out += "  pre-record:         " + std::to_string(clip.prerecordMs) + " ms\n";
        out += "  trigger:            " + orNone(clip.trigger) + "\n";
        out += "  firmware:           " + orNone(clip.fwVersion) + "\n";
        std::string streams;
        for (const auto &[id, chunks] : clip.streamChunks)
            streams += (streams.empty() ? "" : ", ") + std::string("stream ") +
                       std::to_string(id) + ": " + std::to_string(chunks) + " chunks";
        out += "  streams:            " + orNone(streams) + "\n";
        out += "  header SHA-256:     " + orNone(clip.headerSha256) + "\n";
        out += "  ciphertext SHA-256: " + orNone(clip.ciphertextSha256) + " (" +
               std::to_string(clip.ciphertextBytes) + " bytes)\n";
        out += "  plaintext SHA-256:  " + orNone(clip.plaintextSha256) + "\n";
        out += "  manifest SHA-256:   " + orNone(clip.manifestSha256) + "\n";
        out += "  checks:\n";
        for (const Check &check : clip.checks)
            appendCheckLine(out, check);
        out += "  clip result:        " + std::string(clip.passed() ? "PASS" : "FAIL") + "\n";
    }

    out += "\nCustody\n";
    if (report.custody.empty())
        out += "  none recorded (verified offline)\n";
    for (const std::string &line : report.custody)
        out += "  " + line + "\n";

    out += "\n";
    size_t failed = 0;
    const std::string names = failedSummary(report, failed);
    if (report.passed())
        out += "RESULT: PASS — every check passed\n";
    else if (failed > 0)
        out += "RESULT: FAIL — " + std::to_string(failed) + " check(s) failed: " + names + "\n";
    else
        out += "RESULT: FAIL — " + notPassedReason(report) + "\n";
    return out;
}

std::string renderJson(const Report &report)
{
    JsonWriter w;
    w.beginObject();
    w.field("tool_version", report.toolVersion);
    w.field("examiner", report.examiner);
    writeTime(w, "created_utc", report.createdUtcMs);
    w.field("subject", report.subject);
    w.field("passed", report.passed());
    w.key("bundle_checks");
    writeChecks(w, report.bundleChecks);
    w.key("clips");
    w.beginArray();
    for (const ClipReport &clip : report.clips) {
        w.beginObject();
        w.field("clip_path", clip.clipPath);
        w.field("clip_uuid", clip.clipUuid);
        w.field("device_id", clip.deviceId);
        w.field("seq", clip.seq);
        w.field("kind", clip.kind);
        w.field("officer_id", clip.officerId);
        writeTime(w, "start_utc", clip.startUtcMs);
        writeTime(w, "end_utc", clip.endUtcMs);
        writeTime(w, "signed_utc", clip.signedUtcMs);
        w.field("clock_source", clip.clockSource);
        w.field("clock_error_ms", clip.clockErrorMs);
        w.field("prerecord_ms", clip.prerecordMs);
        w.field("trigger", clip.trigger);
        w.field("fw_version", clip.fwVersion);
        w.key("streams");
        w.beginArray();
        for (const auto &[id, chunks] : clip.streamChunks) {
            w.beginObject();
            w.field("stream_id", id);
            w.field("chunks", chunks);
            w.endObject();
        }
        w.endArray();
        w.field("header_sha256", clip.headerSha256);
        w.field("ciphertext_sha256", clip.ciphertextSha256);
        w.field("ciphertext_bytes", clip.ciphertextBytes);
        w.field("plaintext_sha256", clip.plaintextSha256);
        w.field("manifest_sha256", clip.manifestSha256);
        w.key("device_certificate");
        writeCert(w, clip.deviceCert);
        w.key("ca_certificate");
        writeCert(w, clip.caCert);
        w.field("revocation_status", clip.revocationStatus);
        w.key("checks");
        writeChecks(w, clip.checks);
        w.field("passed", clip.passed());
        w.endObject();
    }
    w.endArray();
    w.key("custody");
    w.beginArray();
    for (const std::string &line : report.custody)
        w.value(line);
    w.endArray();
    size_t failed = 0;
    const std::string names = failedSummary(report, failed);
    w.field("failed_checks", uint64_t(failed));
    w.field("failed_check_names", names);
    w.field("result", report.passed() ? std::string("PASS") : std::string("FAIL"));
    w.endObject();
    std::string out = w.take();
    out += '\n';
    return out;
}

} // namespace bwc::verify
