#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace bwc {

// Broad categories a caller can branch on; the message says the rest.
enum class Errc {
    Io,          // read/write/fsync/rename failed
    NotFound,    // a file, key, recipient or record does not exist
    Exists,      // would overwrite something that must not be overwritten
    NoSpace,     // storage full
    Format,      // malformed input: bad magic, version, length, protobuf, DER, PEM
    Auth,        // authentication failed: GCM tag, signature
    Crypto,      // a crypto primitive failed or was given invalid keys/points
    Cert,        // certificate chain, validity, revocation, CRL problems
    Chain,       // hash-chain rule broken (gap, fork, rollback)
    Config,      // invalid configuration value
    Usage,       // invalid command line
    Protocol,    // peer broke the offload protocol
    Device,      // a device (camera, microphone, GPIO line, sound card) failed or is gone
    Internal,    // a bug: an invariant did not hold
};

std::string_view errcName(Errc code);

// An error a person can act on: what failed, why, and what to do.
struct Error {
    Errc code = Errc::Internal;
    std::string message;

    Error() = default;
    Error(Errc c, std::string m) : code(c), message(std::move(m)) {}

    // Prefixes context ("clip 3f2a...: ") to the message.
    Error context(std::string_view prefix) const &;
    Error context(std::string_view prefix) &&;
};

// Value or Error. Constructors that can fail become factories returning Expected.
template <typename T> class [[nodiscard]] Expected {
public:
    Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Expected(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T &value() &
    {
        assert(ok());
        return std::get<0>(v_);
    }
    const T &value() const &
    {
        assert(ok());
        return std::get<0>(v_);
    }
    T value() &&
    {
        assert(ok());
        return std::get<0>(std::move(v_));
    }
    T &operator*() & { return value(); }
    const T &operator*() const & { return value(); }
    T operator*() && { return std::move(*this).value(); }
    T *operator->() { return &value(); }
    const T *operator->() const { return &value(); }

    const Error &error() const &
    {
        assert(!ok());
        return std::get<1>(v_);
    }
    Error &&error() &&
    {
        assert(!ok());
        return std::get<1>(std::move(v_));
    }

private:
    std::variant<T, Error> v_;
};

template <> class [[nodiscard]] Expected<void> {
public:
    Expected() = default;
    Expected(Error error) : error_(std::move(error)), failed_(true) {}

    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    const Error &error() const &
    {
        assert(failed_);
        return error_;
    }
    Error &&error() &&
    {
        assert(failed_);
        return std::move(error_);
    }

private:
    Error error_;
    bool failed_ = false;
};

} // namespace bwc

// Returns the error of an Expected expression from the enclosing function.
#define BWC_TRY(expr)                                                                              \
    do {                                                                                           \
        auto &&bwc_try_result_ = (expr);                                                           \
        if (!bwc_try_result_)                                                                      \
            return std::move(bwc_try_result_).error();                                             \
    } while (0)

// Declares `var` from an Expected expression, or returns its error.
#define BWC_ASSIGN(var, expr)                                                                      \
    auto var##_expected_ = (expr);                                                                 \
    if (!var##_expected_)                                                                          \
        return std::move(var##_expected_).error();                                                 \
    auto var = std::move(var##_expected_).value()
