#include "common/base/config_text.h"

#include <utility>
#include <vector>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/message.h>
#include <google/protobuf/text_format.h>

namespace bwc {

namespace {

// Reports parse errors as "FILE:LINE:COL: message" (1-based, like compilers do).
class ConfigErrorCollector final : public google::protobuf::io::ErrorCollector
{
public:
    ConfigErrorCollector(std::string origin, std::string_view text, std::string_view unknownHint)
        : origin_(std::move(origin)), unknownHint_(unknownHint)
    {
        size_t start = 0;
        while (start <= text.size()) {
            size_t end = text.find('\n', start);
            if (end == std::string_view::npos)
                end = text.size();
            lines_.push_back(text.substr(start, end - start));
            start = end + 1;
        }
    }

    void AddError(int line, google::protobuf::io::ColumnNumber column,
                  const std::string &message) override
    {
        constexpr std::string_view kUnknown = "has no field named \"";
        auto unknown = message.find(kUnknown);
        if (unknown != std::string::npos && line >= 0 && size_t(line) < lines_.size()) {
            // Protobuf points after the name; point at the name itself.
            auto nameStart = unknown + kUnknown.size();
            auto name = message.substr(nameStart, message.find('"', nameStart) - nameStart);
            auto at = lines_[size_t(line)].rfind(name, size_t(column));
            if (!name.empty() && at != std::string_view::npos)
                column = google::protobuf::io::ColumnNumber(at);
        }
        std::string text = origin_;
        if (line >= 0)
            text += position(line, column);
        text += ": ";
        text += message;
        if (unknown != std::string::npos) {
            text += " (";
            text += unknownHint_;
            text += ')';
        }
        errors_.push_back(std::move(text));
    }

    void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                    const std::string &message) override
    {
        // Warnings (deprecated fields) are not fatal, but the file is the user's to fix:
        // report them along with the errors if there are any.
        std::string text = origin_;
        text += position(line, column);
        text += ": warning: ";
        text += message;
        warnings_.push_back(std::move(text));
    }

    std::string joined() const
    {
        std::string out;
        for (const auto *list : {&errors_, &warnings_}) {
            for (const auto &e : *list) {
                if (!out.empty())
                    out += '\n';
                out += e;
            }
        }
        return out;
    }
    bool empty() const { return errors_.empty(); }

private:
    // ":LINE:COL", 1-based.
    static std::string position(int line, google::protobuf::io::ColumnNumber column)
    {
        std::string out = ":";
        out += std::to_string(line + 1);
        out += ':';
        out += std::to_string(column + 1);
        return out;
    }

    std::string origin_;
    std::string unknownHint_;
    std::vector<std::string_view> lines_;
    std::vector<std::string> errors_;
    std::vector<std::string> warnings_;
};

} // namespace

Expected<void> parseTextConfig(std::string_view text, const std::string &origin,
                               google::protobuf::Message &message, std::string_view what,
                               std::string_view unknownFieldHint)
{
    ConfigErrorCollector errors(origin, text, unknownFieldHint);
    google::protobuf::TextFormat::Parser parser;
    parser.RecordErrorsTo(&errors);
    parser.AllowUnknownField(false);
    parser.AllowUnknownExtension(false);
    const std::string owned(text);
    if (!parser.ParseFromString(owned, &message) || !errors.empty()) {
        std::string joined = errors.joined();
        if (joined.empty()) {
            joined = origin + ": not a valid ";
            joined += what;
            joined += " (protobuf text format)";
        }
        return Error(Errc::Config, std::move(joined));
    }
    return {};
}

} // namespace bwc
