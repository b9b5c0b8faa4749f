#pragma once

// bwc-camd: everything wired together. Start-up order (each step's error names the
// config field or file to fix): identity, chain state and boot recovery, storage, board
// (HAL), location, pre-record ring, capture pipeline, clip writer, control socket; then
// readiness is reported to systemd.
//
// One event loop thread owns the recorder's state machine: button edges, writer events
// and a 50 ms tick go in; the actions it returns are carried out here.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <variant>

#include "common/chain/chain_state.h"
#include "common/chain/identity.h"
#include "common/crypto/crypto.h"
#include "firmware/camd/camera_clock.h"
#include "firmware/camd/clip_recorder.h"
#include "firmware/camd/offload_host.h"
#include "firmware/camd/packet_router.h"
#include "firmware/camd/pipeline.h"
#include "firmware/config/camera_config.h"
#include "firmware/control/control.h"
#include "firmware/hal/hal.h"
#include "firmware/location/location.h"
#include "firmware/recorder/recorder_logic.h"
#include "firmware/storage/storage.h"

namespace bwc::fw {

// Where the daemon keeps its state under storage.path.
struct CameraPaths {
    std::string clipDir;         // <storage>/clips: clip files and checkpoint logs
    std::string chainDir;        // <storage>/chain: chain head and manifest journal
    std::string officerFile;     // <storage>/officer: the officer assigned by the dock
    std::string clockOffsetFile; // <storage>/clock_offset: the dock's time as an offset
};
CameraPaths cameraPaths(const v1::CameraConfig &config);

std::string firmwareVersion();

class Daemon
{
public:
    static Expected<std::unique_ptr<Daemon>> create(const LoadedConfig &config);
    ~Daemon();
    Daemon(const Daemon &) = delete;
    Daemon &operator=(const Daemon &) = delete;

    // Runs until `stop` becomes true; then stops a recording in progress (sealing it),
    // and shuts everything down in order.
    Expected<void> run(const std::atomic<bool> &stop);

    // The `status` response (also logged at shutdown).
    std::string statusJson() const;

    // The `dock` request: one offload to dock.address, on the calling thread. Returns the
    // response line. One at a time; refused while recording.
    std::string dock();
    // The `flag` request: flags the clip being recorded, else the last sealed clip.
    std::string flag();

private:
    struct ButtonEvent {
        ButtonEdge edge;
    };
    using Event = std::variant<ButtonEvent, ClipEvent>;

    Daemon() = default;
    Expected<void> init(const LoadedConfig &config);
    void post(Event event);
    void handle(const Event &event);
    void execute(const std::vector<RecorderAction> &actions);
    void everySecond(int64_t nowMonoNs);
    void refreshStorage();
    DeviceFacts deviceFacts() const;
    WatermarkFields watermarkFields(int64_t frameMonoNs) const;
    std::string handleHold(const std::vector<std::string> &args);
    Expected<OffloadResult> runDockOffload();
    void cancelOffload();

    LoadedConfig config_;
    CameraPaths paths_;
    std::unique_ptr<crypto::Backend> backend_;
    std::unique_ptr<chain::SoftwareIdentity> identity_;
    std::unique_ptr<CameraClock> clock_;
    std::unique_ptr<CameraOffloadHost> offloadHost_;
    std::unique_ptr<chain::ChainState> chain_;
    std::unique_ptr<Storage> storage_;
    HalHistory history_;
    std::unique_ptr<Hal> hal_;
    std::unique_ptr<LocationProvider> location_;
    std::unique_ptr<PacketRouter> router_;
    std::unique_ptr<Pipeline> pipeline_;
    std::unique_ptr<ClipRecorder> recorder_;
    std::unique_ptr<ControlServer> control_;
    RecorderLogic logic_;
    uint64_t bytesPerSecond_ = 0;
    int64_t startMonoNs_ = 0;

    // True from the moment run() has the button, the writer and the pipeline going until it
    // starts shutting down; the control socket answers before that.
    std::atomic<bool> ready_{false};
    mutable std::mutex mutex_; // guards the fields below (read by status from other threads)
    std::condition_variable cv_;
    std::deque<Event> events_;
    RecorderState state_ = RecorderState::Idle;
    StorageUsage storageUsage_;
    std::string officerId_;
    v1::ClockSource clockSource_ = v1::CLOCK_SOURCE_UNKNOWN;
    uint32_t clockErrorMs_ = 0;
    int64_t lastPressMonoNs_ = 0;
    int64_t recordingSinceMonoNs_ = 0;
    int64_t stateChangedMonoNs_ = 0;
    std::string lastClip_;
    uint64_t lastClipSeq_ = 0;
    uint64_t chainHeadSeq_ = 0;
    std::string lastError_;
    uint64_t buttonEdges_ = 0;

    // The offload (control command `dock`).
    std::atomic<bool> offloadRunning_{false};
    std::atomic<bool> offloadCancel_{false};
    std::atomic<uint64_t> offloadSent_{0};
    std::atomic<uint64_t> offloadTotal_{0};
    std::string offloadLastResult_; // the last `dock` answer (JSON), guarded by mutex_
    std::string offloadLastError_;
    int64_t offloadLastUtcMs_ = 0;
};

} // namespace bwc::fw
