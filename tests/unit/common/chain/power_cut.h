#pragma once

// Simulated power cuts for the recording path. A PowerCut counts every step that changes
// what is on flash: creating a file, each append, each sync made through the files its
// factory makes, and each increment of a wrapped identity's counter. At the chosen step
// the power goes: that step and everything after it fails with Errc::Io. applyToFlash()
// then leaves on disk what would have survived, in one of three variants.

#include <catch2/catch_test_macros.hpp>

#include <memory>
#include <string>
#include <vector>

#include "common/base/file.h"
#include "common/chain/clip_session.h"
#include "common/chain/identity.h"

namespace bwc::chain::test
{

enum class CutVariant {
    // Only what was synced survives.
    SyncedOnly,
    // Everything written before the cut survives (the page cache reached flash).
    AllWritten,
    // Everything written survives, and the write under way at the cut got half its bytes
    // out (a create under way created the file, a counter increment under way completed).
    TornLastWrite,
};

inline const char *cutVariantName(CutVariant v)
{
    switch (v) {
    case CutVariant::SyncedOnly:
        return "only synced bytes survive";
    case CutVariant::AllWritten:
        return "all written bytes survive";
    case CutVariant::TornLastWrite:
        return "the last write is torn in half";
    }
    return "?";
}

class PowerCut
{
public:
    // cutAtStep 0: never cut (counts steps only).
    explicit PowerCut(uint64_t cutAtStep = 0, CutVariant variant = CutVariant::AllWritten)
        : cutAt_(cutAtStep), variant_(variant)
    {
    }
    PowerCut(const PowerCut &) = delete;
    PowerCut &operator=(const PowerCut &) = delete;

    enum class Action { Proceed, Fail, Tear };

    // Called before each step; says whether it happens, fails outright, or is torn.
    Action step(const std::string &what)
    {
        if (cut_)
            return Action::Fail;
        ++steps_;
        trace_.push_back("step " + std::to_string(steps_) + ": " + what);
        if (steps_ != cutAt_)
            return Action::Proceed;
        cut_ = true;
        return variant_ == CutVariant::TornLastWrite ? Action::Tear : Action::Fail;
    }
    Error failure(const std::string &path) const
    {
        return Error(Errc::Io, path + ": write failed: power cut at step " +
                                   std::to_string(cutAt_) + " (simulated)");
    }

    FileFactory factory();
    DeviceIdentity &identity(DeviceIdentity &inner);

    uint64_t steps() const { return steps_; }
    bool cut() const { return cut_; }
    CutVariant variant() const { return variant_; }
    const std::vector<std::string> &trace() const { return trace_; }

    struct FileState {
        std::string path;
        uint64_t written = 0;
        uint64_t synced = 0;
    };
    FileState &track(const std::string &path)
    {
        files_.push_back(std::make_unique<FileState>());
        files_.back()->path = path;
        return *files_.back();
    }

    // Leaves on disk what the variant says survived. Files that atomicReplace wrote (the
    // chain head, manifests, the counter) were durable when it returned and stay as they are.
    void applyToFlash() const
    {
        if (variant_ != CutVariant::SyncedOnly)
            return;
        for (const auto &f : files_) {
            if (pathExists(f->path)) {
                auto r = truncateFile(f->path, f->synced);
                REQUIRE(r.ok());
            }
        }
    }

private:
    uint64_t cutAt_;
    CutVariant variant_;
    uint64_t steps_ = 0;
    bool cut_ = false;
    std::vector<std::string> trace_;
    std::vector<std::unique_ptr<FileState>> files_;
    std::vector<std::unique_ptr<DeviceIdentity>> identities_;
};

namespace detail
{

class CutFile final : public WritableFile
{
public:
    CutFile(std::unique_ptr<WritableFile> inner, PowerCut &power, PowerCut::FileState &state)
        : inner_(std::move(inner)), power_(power), state_(state)
    {
    }

    Expected<void> append(ByteView data) override
    {
        auto action =
            power_.step("append " + std::to_string(data.size()) + " bytes to " + baseName(path()));
        if (action == PowerCut::Action::Fail)
            return power_.failure(path());
        if (action == PowerCut::Action::Tear) {
            ByteView half = data.first(data.size() / 2);
            if (auto r = inner_->append(half); r)
                state_.written += half.size();
            return power_.failure(path());
        }
        BWC_TRY(inner_->append(data));
        state_.written += data.size();
        return {};
    }

    Expected<void> sync() override
    {
        // A sync cannot be torn: under way at the cut, it simply did not complete.
        if (power_.step("sync " + baseName(path())) != PowerCut::Action::Proceed)
            return power_.failure(path());
        BWC_TRY(inner_->sync());
        state_.synced = state_.written;
        return {};
    }

    uint64_t size() const override { return inner_->size(); }
    const std::string &path() const override { return inner_->path(); }

private:
    std::unique_ptr<WritableFile> inner_;
    PowerCut &power_;
    PowerCut::FileState &state_;
};

class CutIdentity final : public DeviceIdentity
{
public:
    CutIdentity(DeviceIdentity &inner, PowerCut &power) : inner_(inner), power_(power) {}

    const std::string &id() const override { return inner_.id(); }
    const std::vector<Bytes> &certChainDer() const override { return inner_.certChainDer(); }
    const crypto::P256Point &publicKey() const override { return inner_.publicKey(); }
    Expected<Bytes> signDigest(const crypto::Digest &digest) const override
    {
        return inner_.signDigest(digest);
    }
    Expected<uint64_t> counterIncrement() override
    {
        auto action = power_.step("counter increment");
        if (action == PowerCut::Action::Fail)
            return power_.failure("monotonic counter");
        auto r = inner_.counterIncrement();
        if (action == PowerCut::Action::Tear)
            return power_.failure("monotonic counter");
        return r;
    }
    uint64_t counterValue() const override { return inner_.counterValue(); }

private:
    DeviceIdentity &inner_;
    PowerCut &power_;
};

} // namespace detail

inline FileFactory PowerCut::factory()
{
    return [this](const std::string &path) -> Expected<std::unique_ptr<WritableFile>> {
        auto action = step("create " + baseName(path));
        if (action == Action::Fail)
            return failure(path);
        auto inner = createFile(path);
        if (!inner)
            return std::move(inner).error();
        FileState &state = track(path);
        if (action == Action::Tear)
            return failure(path);
        return std::unique_ptr<WritableFile>(new detail::CutFile(std::move(*inner), *this, state));
    };
}

// An identity whose counter increments are steps; owned by the PowerCut.
inline DeviceIdentity &PowerCut::identity(DeviceIdentity &inner)
{
    identities_.push_back(std::make_unique<detail::CutIdentity>(inner, *this));
    return *identities_.back();
}

} // namespace bwc::chain::test
