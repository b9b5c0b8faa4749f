#include "firmware/control/json_read.h"

#include <cstdint>

#include "common/base/bytes.h"
#include "common/base/json.h"

namespace bwc::fw {

// The one implementation is common/base/json.cpp (jsonQuote uses it too).
size_t utf8SequenceLength(std::string_view s, size_t i)
{
    return bwc::utf8SequenceLength(s, i);
}

namespace {

constexpr int kMaxDepth = 64;

void appendUtf8(std::string &out, uint32_t cp)
{
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xc0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += char(0xe0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3f));
        out += char(0x80 | (cp & 0x3f));
    } else {
        out += char(0xf0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3f));
        out += char(0x80 | ((cp >> 6) & 0x3f));
        out += char(0x80 | (cp & 0x3f));
    }
}

bool isDigit(char c)
{
    return c >= '0' && c <= '9';
}

// Recursive-descent checker of RFC 8259 JSON over a string_view.
class Scanner
{
public:
    explicit Scanner(std::string_view s) : s_(s) {}

    size_t pos() const { return pos_; }
    const std::string &problem() const { return problem_; }
    bool atEnd() const { return pos_ == s_.size(); }

    void skipSpace()
    {
        while (pos_ < s_.size() &&
               (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
            ++pos_;
    }

    bool value(int depth)
    {
        skipSpace();
        if (atEnd())
            return fail("unexpected end of input, expected a value");
        switch (s_[pos_]) {
        case '{':
            return object(depth + 1, nullptr);
        case '[':
            return array(depth + 1);
        case '"':
            return string(nullptr);
        case 't':
            return literal("true");
        case 'f':
            return literal("false");
        case 'n':
            return literal("null");
        default:
            return number();
        }
    }

    // At '{'. Collects the members when `members` is not null.
    bool object(int depth, std::vector<JsonMember> *members)
    {
        if (depth > kMaxDepth)
            return fail("nested deeper than " + std::to_string(kMaxDepth) + " levels");
        ++pos_; // '{'
        skipSpace();
        if (pos_ < s_.size() && s_[pos_] == '}') {
            ++pos_;
            return true;
        }
        for (;;) {
            skipSpace();
            if (atEnd() || s_[pos_] != '"')
                return fail("expected a member name (a string)");
            std::string key;
            if (!string(members ? &key : nullptr))
                return false;
            skipSpace();
            if (atEnd() || s_[pos_] != ':')
                return fail("expected ':' after a member name");
            ++pos_;
            skipSpace();
            size_t start = pos_;
            if (!value(depth))
                return false;
            if (members)
                members->push_back({std::move(key), std::string(s_.substr(start, pos_ - start))});
            skipSpace();
            if (atEnd())
                return fail("unexpected end of input inside an object");
            if (s_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (s_[pos_] == '}') {
                ++pos_;
                return true;
            }
            return fail("expected ',' or '}' in an object");
        }
    }

    bool array(int depth)
    {
        if (depth > kMaxDepth)
            return fail("nested deeper than " + std::to_string(kMaxDepth) + " levels");
        ++pos_; // '['
        skipSpace();
        if (pos_ < s_.size() && s_[pos_] == ']') {
            ++pos_;
            return true;
        }
        for (;;) {
            if (!value(depth))
                return false;
            skipSpace();
            if (atEnd())
                return fail("unexpected end of input inside an array");
            if (s_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (s_[pos_] == ']') {
                ++pos_;
                return true;
            }
            return fail("expected ',' or ']' in an array");
        }
    }

    // At '"'. Appends the unescaped text to `out` when it is not null.
    bool string(std::string *out)
    {
        ++pos_; // '"'
        for (;;) {
            if (atEnd())
                return fail("unterminated string");
            char c = s_[pos_];
            auto u = static_cast<unsigned char>(c);
            if (c == '"') {
                ++pos_;
                return true;
            }
            if (u < 0x20)
                return fail("control character in a string (must be escaped)");
            if (c != '\\') {
                size_t len = utf8SequenceLength(s_, pos_);
                if (len == 0)
                    return fail("invalid UTF-8 in a string");
                if (out)
                    out->append(s_.substr(pos_, len));
                pos_ += len;
                continue;
            }
            ++pos_; // '\\'
            if (atEnd())
                return fail("unterminated escape");
            char e = s_[pos_++];
            char plain = 0;
            switch (e) {
            case '"':
            case '\\':
            case '/':
                plain = e;
                break;
            case 'b':
                plain = '\b';
                break;
            case 'f':
                plain = '\f';
                break;
            case 'n':
                plain = '\n';
                break;
            case 'r':
                plain = '\r';
                break;
            case 't':
                plain = '\t';
                break;
            case 'u': {
                uint32_t cp = 0;
                if (!hex4(cp))
                    return false;
                if (cp >= 0xdc00 && cp <= 0xdfff)
                    return fail("lone low surrogate in a \\u escape");
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    uint32_t low = 0;
                    if (s_.substr(pos_, 2) != "\\u")
                        return fail("high surrogate without its low surrogate");
                    pos_ += 2;
                    if (!hex4(low))
                        return false;
                    if (low < 0xdc00 || low > 0xdfff)
                        return fail("high surrogate without its low surrogate");
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                }
                if (out)
                    appendUtf8(*out, cp);
                continue;
            }
            default:
                return fail(std::string("invalid escape '\\") + e + "'");
            }
            if (out)
                *out += plain;
        }
    }

    bool fail(std::string message)
    {
        if (problem_.empty())
            problem_ = std::move(message);
        return false;
    }

private:
    bool hex4(uint32_t &cp)
    {
        if (pos_ + 4 > s_.size())
            return fail("truncated \\u escape");
        cp = 0;
        for (int k = 0; k < 4; ++k) {
            int h = hexDigitValue(s_[pos_ + size_t(k)]);
            if (h < 0)
                return fail("invalid \\u escape");
            cp = (cp << 4) | uint32_t(h);
        }
        pos_ += 4;
        return true;
    }

    bool literal(std::string_view word)
    {
        if (s_.substr(pos_, word.size()) != word)
            return fail("invalid literal (expected " + std::string(word) + ")");
        pos_ += word.size();
        return true;
    }

    bool number()
    {
        size_t start = pos_;
        if (pos_ < s_.size() && s_[pos_] == '-')
            ++pos_;
        if (pos_ < s_.size() && s_[pos_] == '0') {
            ++pos_;
        } else if (pos_ < s_.size() && isDigit(s_[pos_])) {
            while (pos_ < s_.size() && isDigit(s_[pos_]))
                ++pos_;
        } else {
            pos_ = start;
            return fail("expected a value");
        }
        if (pos_ < s_.size() && s_[pos_] == '.') {
            ++pos_;
            if (pos_ >= s_.size() || !isDigit(s_[pos_]))
                return fail("expected a digit after '.'");
            while (pos_ < s_.size() && isDigit(s_[pos_]))
                ++pos_;
        }
        if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
            ++pos_;
            if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-'))
                ++pos_;
            if (pos_ >= s_.size() || !isDigit(s_[pos_]))
                return fail("expected a digit in the exponent");
            while (pos_ < s_.size() && isDigit(s_[pos_]))
                ++pos_;
        }
        return true;
    }

    std::string_view s_;
    size_t pos_ = 0;
    std::string problem_;
};

Error formatError(const Scanner &sc, std::string_view what)
{
    return Error(Errc::Format, "malformed JSON " + std::string(what) + " at byte " +
                                   std::to_string(sc.pos()) + ": " + sc.problem());
}

void newline(std::string &out, int level)
{
    out += '\n';
    out.append(size_t(level) * 2, ' ');
}

} // namespace

Expected<std::vector<JsonMember>> jsonObjectMembers(std::string_view json)
{
    Scanner sc(json);
    sc.skipSpace();
    if (sc.atEnd() || json[sc.pos()] != '{') {
        sc.fail("expected an object ('{')");
        return formatError(sc, "object");
    }
    std::vector<JsonMember> members;
    if (!sc.object(1, &members))
        return formatError(sc, "object");
    sc.skipSpace();
    if (!sc.atEnd()) {
        sc.fail("unexpected data after the object");
        return formatError(sc, "object");
    }
    return members;
}

Expected<std::string> jsonUnquote(std::string_view literal)
{
    Scanner sc(literal);
    std::string out;
    if (literal.empty() || literal.front() != '"') {
        sc.fail("expected a string ('\"')");
        return formatError(sc, "string");
    }
    if (!sc.string(&out))
        return formatError(sc, "string");
    if (!sc.atEnd()) {
        sc.fail("unexpected data after the string");
        return formatError(sc, "string");
    }
    return out;
}

Expected<std::string> jsonPretty(std::string_view json)
{
    Scanner sc(json);
    if (!sc.value(0))
        return formatError(sc, "value");
    sc.skipSpace();
    if (!sc.atEnd()) {
        sc.fail("unexpected data after the value");
        return formatError(sc, "value");
    }
    // Well-formed: re-emit the tokens with our own whitespace.
    std::string out;
    int level = 0;
    for (size_t i = 0; i < json.size(); ++i) {
        char c = json[i];
        switch (c) {
        case ' ':
        case '\t':
        case '\n':
        case '\r':
            break;
        case '"': {
            size_t j = i + 1;
            while (json[j] != '"')
                j += json[j] == '\\' ? 2 : 1;
            out.append(json.substr(i, j - i + 1));
            i = j;
            break;
        }
        case '{':
        case '[': {
            size_t j = i + 1;
            while (json[j] == ' ' || json[j] == '\t' || json[j] == '\n' || json[j] == '\r')
                ++j;
            if (json[j] == (c == '{' ? '}' : ']')) {
                out += c;
                out += json[j];
                i = j;
            } else {
                out += c;
                newline(out, ++level);
            }
            break;
        }
        case '}':
        case ']':
            newline(out, --level);
            out += c;
            break;
        case ',':
            out += ',';
            newline(out, level);
            break;
        case ':':
            out += ": ";
            break;
        default:
            out += c;
        }
    }
    return out;
}

} // namespace bwc::fw
