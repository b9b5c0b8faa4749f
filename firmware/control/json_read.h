#pragma once

// Reading the control protocol's JSON responses (bwc-camctl, tests): a strict checker of
// RFC 8259 JSON that splits an object into its members, unescapes strings and indents a
// document for people. Not a general JSON library: values stay JSON text.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/error.h"

namespace bwc::fw {

struct JsonMember {
    std::string key;   // unescaped
    std::string value; // the value's JSON text, exactly as in the input
};

// The members of one JSON object, in order. Errc::Format, naming the byte offset, when
// `json` is not exactly one well-formed JSON object (surrounding whitespace allowed).
Expected<std::vector<JsonMember>> jsonObjectMembers(std::string_view json);

// The text of a JSON string literal (with its quotes) unescaped to UTF-8; \u escapes
// including surrogate pairs. Errc::Format when it is not one valid string literal.
Expected<std::string> jsonUnquote(std::string_view literal);

// Length of the valid UTF-8 sequence starting at s[i] (1-4), or 0 when the bytes there
// are not one (stray continuation byte, overlong form, surrogate, above U+10FFFF,
// truncated). ASCII counts as a sequence of 1.
size_t utf8SequenceLength(std::string_view s, size_t i);

// `json` (any well-formed JSON value) indented by two spaces per level, one member or
// element per line, without a trailing newline. Errc::Format when malformed.
Expected<std::string> jsonPretty(std::string_view json);

} // namespace bwc::fw
