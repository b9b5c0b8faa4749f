#include "firmware/recorder/recorder_logic.h"

#include <utility>

namespace bwc::fw {

namespace {

using Kind = RecorderAction::Kind;

RecorderAction clipAction(Kind kind)
{
    RecorderAction action{};
    action.kind = kind;
    return action;
}

RecorderAction ledAction(LedId led, LedMode mode)
{
    RecorderAction action{};
    action.kind = Kind::SetLed;
    action.led = led;
    action.ledMode = mode;
    return action;
}

RecorderAction toneAction(ToneId tone)
{
    RecorderAction action{};
    action.kind = Kind::PlayTone;
    action.tone = tone;
    return action;
}

RecorderAction hapticAction(uint32_t ms)
{
    RecorderAction action{};
    action.kind = Kind::Haptic;
    action.hapticMs = ms;
    return action;
}

RecorderAction eventAction(std::string name)
{
    RecorderAction action{};
    action.kind = Kind::Event;
    action.event = std::move(name);
    return action;
}

} // namespace

std::string_view recorderStateName(RecorderState state)
{
    switch (state) {
    case RecorderState::Idle:
        return "idle";
    case RecorderState::Recording:
        return "recording";
    case RecorderState::Sealing:
        return "sealing";
    }
    return "unknown";
}

std::string_view ledIdName(LedId id)
{
    switch (id) {
    case LedId::Record:
        return "record";
    case LedId::Status:
        return "status";
    }
    return "unknown";
}

std::string_view ledModeName(LedMode mode)
{
    switch (mode) {
    case LedMode::Off:
        return "off";
    case LedMode::On:
        return "on";
    case LedMode::BlinkSlow:
        return "blink-slow";
    case LedMode::BlinkFast:
        return "blink-fast";
    }
    return "unknown";
}

std::string_view toneIdName(ToneId id)
{
    switch (id) {
    case ToneId::Start:
        return "start";
    case ToneId::Stop:
        return "stop";
    case ToneId::Reminder:
        return "reminder";
    case ToneId::StorageWarning:
        return "storage-warning";
    case ToneId::StorageFull:
        return "storage-full";
    case ToneId::Error:
        return "error";
    case ToneId::Rejected:
        return "rejected";
    }
    return "unknown";
}

RecorderLogic::RecorderLogic(RecorderSettings settings) : settings_(settings) {}

std::vector<RecorderAction> RecorderLogic::buttonEdge(bool pressed, int64_t monoMs)
{
    // A repeated level means an edge was lost in between; only a change is a new raw edge.
    if (pressed != rawDown_) {
        rawDown_ = pressed;
        rawEdgeMs_ = monoMs;
    }
    if (pressed == buttonDown_ || monoMs - lastEdgeMs_ < int64_t(settings_.debounceMs))
        return {};
    return acceptEdge(pressed, monoMs);
}

std::vector<RecorderAction> RecorderLogic::acceptEdge(bool pressed, int64_t monoMs)
{
    lastEdgeMs_ = monoMs;
    buttonDown_ = pressed;
    return pressed ? onPress(monoMs) : onRelease(monoMs);
}

std::vector<RecorderAction> RecorderLogic::onPress(int64_t monoMs)
{
    std::vector<RecorderAction> actions;
    pressDownMs_ = monoMs;
    pressStartedRecording_ = false;
    longPressHandled_ = false;
    switch (state_) {
    case RecorderState::Idle:
        if (storage_ == StorageLevel::Full) {
            actions.push_back(toneAction(ToneId::StorageFull));
            actions.push_back(ledAction(LedId::Status, LedMode::BlinkFast));
            actions.push_back(eventAction("button-press"));
            actions.push_back(eventAction("storage-full-refused"));
            break;
        }
        actions.push_back(toneAction(ToneId::Start));
        actions.push_back(ledAction(LedId::Record, LedMode::On));
        actions.push_back(hapticAction(settings_.hapticMs));
        actions.push_back(clipAction(Kind::StartClip));
        actions.push_back(eventAction("button-press"));
        actions.push_back(eventAction("record-start"));
        state_ = RecorderState::Recording;
        pressStartedRecording_ = true;
        clipStartMs_ = monoMs;
        lastReminderMs_ = monoMs;
        break;
    case RecorderState::Recording:
        actions.push_back(eventAction("button-press"));
        break;
    case RecorderState::Sealing:
        actions.push_back(toneAction(ToneId::Rejected));
        actions.push_back(eventAction("button-press"));
        break;
    }
    return actions;
}

std::vector<RecorderAction> RecorderLogic::onRelease(int64_t monoMs)
{
    std::vector<RecorderAction> actions;
    const bool startedRecording = std::exchange(pressStartedRecording_, false);
    if (state_ != RecorderState::Recording || startedRecording || longPressHandled_)
        return actions;
    if (monoMs - pressDownMs_ >= int64_t(settings_.longPressMs)) {
        // Held long enough, but no tick() saw it while it was held.
        stopActions(actions);
    } else {
        actions.push_back(hapticAction(settings_.hapticMs));
        actions.push_back(eventAction("short-press-ignored"));
    }
    return actions;
}

void RecorderLogic::stopActions(std::vector<RecorderAction> &actions)
{
    actions.push_back(toneAction(ToneId::Stop));
    actions.push_back(eventAction("record-stop"));
    actions.push_back(clipAction(Kind::StopClip));
    state_ = RecorderState::Sealing;
    longPressHandled_ = true;
}

std::vector<RecorderAction> RecorderLogic::tick(int64_t monoMs)
{
    std::vector<RecorderAction> actions;
    // The line settled at a level whose edge was taken for bounce: accept it now, dated
    // by the edge itself.
    if (rawDown_ != buttonDown_ && monoMs - lastEdgeMs_ >= int64_t(settings_.debounceMs))
        actions = acceptEdge(rawDown_, rawEdgeMs_);
    if (state_ != RecorderState::Recording)
        return actions;

    if (buttonDown_ && !pressStartedRecording_ && !longPressHandled_ &&
        monoMs - pressDownMs_ >= int64_t(settings_.longPressMs)) {
        stopActions(actions);
        return actions;
    }
    if (settings_.maxClipMs > 0 && uint64_t(monoMs - clipStartMs_) >= settings_.maxClipMs) {
        actions.push_back(clipAction(Kind::RollOver));
        actions.push_back(eventAction("clip-rollover"));
        clipStartMs_ = monoMs;
    }
    if (settings_.reminderMs > 0 && monoMs - lastReminderMs_ >= int64_t(settings_.reminderMs)) {
        actions.push_back(toneAction(ToneId::Reminder));
        // One reminder however late the tick, on the cadence set by the recording's start.
        const int64_t period = settings_.reminderMs;
        lastReminderMs_ += (monoMs - lastReminderMs_) / period * period;
    }
    return actions;
}

std::vector<RecorderAction> RecorderLogic::storageLevel(StorageLevel level, int64_t)
{
    std::vector<RecorderAction> actions;
    if (level == storage_)
        return actions;
    const StorageLevel previous = std::exchange(storage_, level);
    switch (level) {
    case StorageLevel::Ok:
        actions.push_back(ledAction(LedId::Status, LedMode::Off));
        actions.push_back(eventAction("storage-ok"));
        break;
    case StorageLevel::Warning:
        if (previous == StorageLevel::Ok)
            actions.push_back(toneAction(ToneId::StorageWarning));
        actions.push_back(ledAction(LedId::Status, LedMode::BlinkSlow));
        actions.push_back(eventAction("storage-warning"));
        break;
    case StorageLevel::Full:
        actions.push_back(toneAction(ToneId::StorageFull));
        actions.push_back(ledAction(LedId::Status, LedMode::BlinkFast));
        actions.push_back(eventAction("storage-full"));
        if (state_ == RecorderState::Recording) {
            // Seal cleanly while the reserve still holds the checkpoints and manifest.
            actions.push_back(eventAction("record-stop"));
            actions.push_back(clipAction(Kind::StopClip));
            state_ = RecorderState::Sealing;
            longPressHandled_ = true;
        }
        break;
    }
    return actions;
}

std::vector<RecorderAction> RecorderLogic::clipStarted(bool ok, int64_t)
{
    std::vector<RecorderAction> actions;
    if (ok || state_ == RecorderState::Idle)
        return actions;
    // Also from sealing: a clip that never started has nothing to seal.
    state_ = RecorderState::Idle;
    actions.push_back(ledAction(LedId::Record, LedMode::Off));
    actions.push_back(toneAction(ToneId::Error));
    actions.push_back(eventAction("record-start-failed"));
    return actions;
}

std::vector<RecorderAction> RecorderLogic::clipSealed(bool ok, int64_t)
{
    std::vector<RecorderAction> actions;
    if (state_ == RecorderState::Recording) {
        // The clip closed by a roll-over; the recording goes on in the next one.
        if (!ok) {
            actions.push_back(toneAction(ToneId::Error));
            actions.push_back(eventAction("clip-seal-failed"));
        }
        return actions;
    }
    if (state_ != RecorderState::Sealing)
        return actions;
    state_ = RecorderState::Idle;
    actions.push_back(ledAction(LedId::Record, LedMode::Off));
    if (ok) {
        actions.push_back(eventAction("clip-sealed"));
    } else {
        actions.push_back(toneAction(ToneId::Error));
        actions.push_back(eventAction("clip-seal-failed"));
    }
    return actions;
}

} // namespace bwc::fw
