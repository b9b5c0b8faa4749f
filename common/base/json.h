#pragma once

// Writing JSON strings, shared by the camera's control protocol and the `bwc` tool's
// JSON output.

#include <cstddef>
#include <string>
#include <string_view>

namespace bwc {

// A JSON string literal: quotes, backslashes and control characters escaped, valid UTF-8
// passed through, each byte of invalid UTF-8 replaced by U+FFFD.
std::string jsonQuote(std::string_view s);

// Length of the valid UTF-8 sequence starting at s[i] (1-4), or 0 when the bytes there
// are not one (stray continuation byte, overlong form, surrogate, above U+10FFFF,
// truncated). ASCII counts as a sequence of 1.
size_t utf8SequenceLength(std::string_view s, size_t i);

} // namespace bwc
