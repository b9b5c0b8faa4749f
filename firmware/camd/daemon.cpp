#include "firmware/camd/daemon.h"

#include <sys/timex.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/base/clock.h"
#include "common/base/file.h"
#include "common/base/log.h"
#include "common/chain/clip_session.h"
#include "common/chain/recovery.h"
#include "common/container/container.h"
#include "common/crypto/pem.h"
#include "common/net/tls.h"
#include "firmware/camd/sd_notify.h"

#ifndef BWC_FW_VERSION
#error "BWC_FW_VERSION must be defined by the build"
#endif

namespace bwc::fw {

namespace {

constexpr uint64_t kMaxQueueBytes = 64ull << 20;

struct ClockState {
    v1::ClockSource source = v1::CLOCK_SOURCE_UNKNOWN;
    uint32_t errorMs = 0;
};

// The kernel knows whether its clock is disciplined (by NTP or a GNSS-fed chrony) and its
// maximum error. An undisciplined clock is marked unknown: the watermark then says
// UNSYNCED, and the dock's time at docking is what corrects it.
ClockState systemClockState()
{
    struct timex tx {
    };
    const int state = ::adjtimex(&tx);
    if (state == -1 || state == TIME_ERROR || (tx.status & STA_UNSYNC) != 0)
        return {};
    return {v1::CLOCK_SOURCE_NTP, uint32_t(std::min<long>(tx.maxerror / 1000, UINT32_MAX))};
}

// The newest `last` records as a JSON array, each rendered by `toJson`.
template <typename Record, typename ToJson>
std::string historyJson(const std::vector<Record> &records, size_t last, ToJson toJson)
{
    std::string out = "[";
    const size_t from = records.size() > last ? records.size() - last : 0;
    for (size_t i = from; i < records.size(); ++i) {
        if (i > from)
            out += ",";
        out += toJson(records[i]).str();
    }
    return out + "]";
}

std::string ledHistoryJson(const std::vector<LedRecord> &records, size_t last)
{
    return historyJson(records, last, [](const LedRecord &r) {
        return JsonObject()
            .add("led", ledIdName(r.led))
            .add("mode", ledModeName(r.mode))
            .add("mono_ns", r.monoNs);
    });
}

std::string toneHistoryJson(const std::vector<ToneRecord> &records, size_t last)
{
    return historyJson(records, last, [](const ToneRecord &r) {
        return JsonObject()
            .add("tone", toneIdName(r.tone))
            .add("requested_mono_ns", r.requestedMonoNs)
            .add("first_sample_mono_ns", r.firstSampleMonoNs);
    });
}

std::string errorJson(std::string_view message)
{
    return JsonObject().add("ok", false).add("error", message).str();
}

Expected<std::vector<crypto::P256Point>> loadRecipients(const crypto::Backend &backend,
                                                        const v1::IdentityConfig &identity)
{
    std::vector<crypto::P256Point> points;
    for (const std::string &path : identity.recipient_cert_paths()) {
        auto certs = crypto::readPemFile(path, "CERTIFICATE");
        if (!certs)
            return std::move(certs).error().context("identity.recipient_cert_paths");
        auto info = backend.parseCertificateDer(certs->front());
        if (!info)
            return std::move(info).error().context("identity.recipient_cert_paths: " + path);
        points.push_back(info->publicKey);
    }
    return points;
}

} // namespace

CameraPaths cameraPaths(const v1::CameraConfig &config)
{
    const std::string &root = config.storage().path();
    return {root + "/clips", root + "/chain", root + "/officer", root + "/clock_offset"};
}

std::string firmwareVersion()
{
    return std::string("bwc-camd ") + BWC_FW_VERSION;
}

Daemon::~Daemon()
{
    cancelOffload();
    if (control_)
        control_->stop();
    if (pipeline_)
        pipeline_->stop();
    if (recorder_)
        recorder_->stop();
    if (hal_)
        hal_->button().stop();
    if (location_)
        location_->stop();
}

Expected<std::unique_ptr<Daemon>> Daemon::create(const LoadedConfig &config)
{
    std::unique_ptr<Daemon> d(new Daemon());
    BWC_TRY(d->init(config));
    return d;
}

Expected<void> Daemon::init(const LoadedConfig &loaded)
{
    config_ = loaded;
    const v1::CameraConfig &c = config_.config;
    paths_ = cameraPaths(c);
    startMonoNs_ = monoNowNs();
    logic_ = RecorderLogic(RecorderSettings{c.hal().long_press_ms(), 30, 120'000,
                                            uint64_t(c.max_clip_seconds()) * 1000});

    // Identity and chain: the camera signs with mbedTLS.
    backend_ = crypto::makeMbedtlsBackend();
    BWC_TRY(makeDirectories(c.storage().path(), 0700));
    auto identity = chain::SoftwareIdentity::load(
        *backend_, c.identity().key_path(), c.identity().cert_path(), c.identity().counter_path());
    if (!identity)
        return std::move(identity).error().context("identity (key_path, cert_path)");
    identity_ = std::move(*identity);
    if (!c.device_id().empty() && c.device_id() != identity_->id())
        return Error(Errc::Config, config_.path + ": device_id = \"" + c.device_id() +
                                       "\" but the device certificate is for \"" + identity_->id() +
                                       "\"; fix device_id or install this device's certificate");
    BWC_ASSIGN(recipients, loadRecipients(*backend_, c.identity()));

    // The wall clock: steppable by the dock. Real boards set the system clock; the
    // simulated board keeps the dock's time as an offset (no root needed).
    auto cameraClock = CameraClock::open(c.hal().backend() == "gpiod" ? CameraClock::Mode::System
                                                                      : CameraClock::Mode::Offset,
                                         paths_.clockOffsetFile);
    if (!cameraClock)
        return std::move(cameraClock).error().context("clock");
    clock_ = std::move(*cameraClock);

    auto chainState = chain::ChainState::open(*backend_, *identity_, paths_.chainDir, *clock_);
    if (!chainState)
        return std::move(chainState).error().context("chain " + paths_.chainDir);
    chain_ = std::move(*chainState);
    for (const std::string &note : chain_->recoveryNotes())
        log::warn("chain recovery: " + note);
    chainHeadSeq_ = chain_->head().seq();

    const ClockState clockState = systemClockState();
    clockSource_ = clockState.source;
    clockErrorMs_ = clockState.errorMs;
    if (clock_->offsetMs() != 0) {
        // The dock set this camera's time at the last docking.
        clockSource_ = v1::CLOCK_SOURCE_DOCK;
        clockErrorMs_ = 1000;
    }
    {
        BWC_ASSIGN(officer, readOfficerFile(paths_.officerFile));
        officerId_ = officer;
    }

    // Boot recovery: clips cut short by a power loss are sealed as INTERRUPTED.
    BWC_TRY(makeDirectories(paths_.clipDir, 0700));
    chain::RecoveryOptions recovery{firmwareVersion(), config_.sha256, clockSource_, clockErrorMs_};
    auto recovered =
        chain::recoverUnfinishedClips(*backend_, *identity_, *chain_, paths_.clipDir, recovery);
    if (!recovered)
        return std::move(recovered).error().context("boot recovery in " + paths_.clipDir);
    for (const chain::RecoveredClip &r : *recovered)
        log::warn("boot recovery: " + r.note);
    chainHeadSeq_ = chain_->head().seq();

    StorageSettings storage{paths_.clipDir, c.storage().warn_percent(),
                            c.storage().reserve_bytes()};
    BWC_ASSIGN(opened, Storage::open(storage));
    storage_ = std::make_unique<Storage>(std::move(opened));

    auto hal = openHal(c.hal(), history_);
    if (!hal)
        return std::move(hal).error().context("hal");
    hal_ = std::move(*hal);

    auto location = openLocationProvider(c.location());
    if (!location)
        return std::move(location).error().context("location");
    location_ = std::move(*location);
    BWC_TRY(location_->start());

    // Pre-record ring: sized for the configured seconds at the configured bitrates. With
    // pre-record off it still keeps the GOP in progress, so a clip starts at the keyframe
    // just before the press instead of up to a second after it.
    const uint32_t audioKbps = c.audio().enabled() ? c.audio().bitrate_kbps() : 0;
    const uint32_t totalKbps = c.video().bitrate_kbps() + audioKbps;
    bytesPerSecond_ = uint64_t(totalKbps) * 1000 / 8;
    const uint32_t seconds = c.prerecord().seconds();
    RingLimits limits;
    limits.maxDurationMs = seconds == 0 ? 1000 : seconds * 1000;
    const uint32_t packetsPerSecond = c.video().fps() + (c.prerecord().include_audio() ? 47 : 0);
    limits.maxBytes = c.prerecord().max_bytes() != 0
                          ? c.prerecord().max_bytes()
                          : ringBytesFor(std::max(seconds, 2u), totalKbps, packetsPerSecond);
    limits.includeAudio = c.prerecord().include_audio();
    auto ring = PacketRing::create(limits);
    if (!ring)
        return std::move(ring).error().context("prerecord");
    // The writer's queue takes the whole pre-roll at the press, and then live packets up to
    // kMaxQueueBytes behind.
    router_ = std::make_unique<PacketRouter>(std::move(*ring), limits.maxBytes + kMaxQueueBytes);

    PipelineOptions po;
    po.video.kind = c.video().source();
    po.video.device = c.video().device();
    po.video.format = {c.video().width(), c.video().height(), c.video().fps()};
    po.video.pixelFormat = c.video().pixel_format();
    po.video.paced = true;
    po.encoder.codec = c.video().encoder();
    po.encoder.bitrateKbps = c.video().bitrate_kbps();
    if (!c.video().preset().empty())
        po.encoder.preset = c.video().preset();
    if (c.audio().enabled()) {
        AudioSourceOptions ao;
        ao.kind = c.audio().source();
        ao.device = c.audio().capture_device();
        ao.format.sampleRate = c.audio().sample_rate();
        ao.paced = true;
        po.audio = ao;
        po.audioBitrateKbps = c.audio().bitrate_kbps();
    }
    po.fontPath = c.font_path();
    BWC_ASSIGN(pipeline, Pipeline::create(po, *router_, [this](int64_t monoNs) {
                   return watermarkFields(monoNs);
               }));
    pipeline_ = std::move(pipeline);

    ClipRecorderOptions ro;
    ro.clipDir = paths_.clipDir;
    ro.recipients = recipients;
    ro.fwVersion = firmwareVersion();
    ro.configSha256 = config_.sha256;
    ro.video = pipeline_->videoParams();
    ro.audio = pipeline_->audioParams();
    ro.deviceFacts = [this] { return deviceFacts(); };
    ro.clock = clock_.get();
    recorder_ =
        std::make_unique<ClipRecorder>(*backend_, *identity_, *chain_, *storage_, *router_,
                                       std::move(ro), [this](const ClipEvent &e) { post(e); });

    std::map<std::string, ControlHandler> handlers;
    handlers["status"] = [this](const std::vector<std::string> &) { return statusJson(); };
    auto edge = [this](bool pressed) -> std::string {
        SimButton *sim = hal_->simButton();
        if (!ready_)
            return errorJson("bwc-camd is starting or stopping: its button is not live; press "
                             "and release once status says \"ready\": true");
        if (sim == nullptr)
            return errorJson(
                "this camera has a real button (hal.backend = " + config_.config.hal().backend() +
                "); press and release work on the simulated board only");
        sim->inject(pressed);
        return JsonObject().add("ok", true).add("pressed", pressed).str();
    };
    handlers["press"] = [edge](const std::vector<std::string> &) { return edge(true); };
    handlers["release"] = [edge](const std::vector<std::string> &) { return edge(false); };
    handlers["hold"] = [this](const std::vector<std::string> &args) { return handleHold(args); };
    handlers["dock"] = [this](const std::vector<std::string> &) { return dock(); };
    handlers["flag"] = [this](const std::vector<std::string> &) { return flag(); };

    CameraOffloadHostOptions ho;
    ho.configPath = config_.path;
    ho.configSha256 = config_.sha256;
    ho.deviceId = identity_->id();
    ho.officerFile = paths_.officerFile;
    ho.crlPath = c.identity().crl_path();
    ho.clipDir = paths_.clipDir;
    ho.fwVersion = firmwareVersion();
    offloadHost_ = std::make_unique<CameraOffloadHost>(
        *clock_, storage_.get(), std::move(ho),
        [this](const std::string &officer) {
            std::lock_guard lock(mutex_);
            officerId_ = officer;
        },
        [this] {
            // Within the 1 s step threshold of the dock's time from now on.
            std::lock_guard lock(mutex_);
            clockSource_ = v1::CLOCK_SOURCE_DOCK;
            clockErrorMs_ = 1000;
        });
    std::string socketPath = c.control_socket();
    BWC_ASSIGN(control, ControlServer::start(socketPath, std::move(handlers)));
    control_ = std::move(control);

    refreshStorage();
    return {};
}

std::string Daemon::handleHold(const std::vector<std::string> &args)
{
    SimButton *sim = hal_->simButton();
    if (sim == nullptr)
        return errorJson("hold works on the simulated board only");
    if (args.size() != 2)
        return errorJson("usage: hold MS (1..60000)");
    char *end = nullptr;
    const long ms = std::strtol(args[1].c_str(), &end, 10);
    if (end == args[1].c_str() || *end != '\0' || ms < 1 || ms > 60'000)
        return errorJson("hold: '" + args[1] + "' is not a duration in milliseconds (1..60000)");
    sim->inject(true);
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    sim->inject(false);
    return JsonObject().add("ok", true).add("held_ms", int64_t(ms)).str();
}

void Daemon::post(Event event)
{
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
    cv_.notify_one();
}

DeviceFacts Daemon::deviceFacts() const
{
    std::lock_guard lock(mutex_);
    return {officerId_, clockSource_, clockErrorMs_};
}

WatermarkFields Daemon::watermarkFields(int64_t frameMonoNs) const
{
    WatermarkFields f;
    f.deviceId = identity_->id();
    {
        std::lock_guard lock(mutex_);
        f.officerId = officerId_;
        f.clockSource = clockSource_;
    }
    f.utcMs = utcMsOfMono(*clock_, frameMonoNs);
    if (auto fix = location_->latest(frameMonoNs)) {
        f.latitudeDeg = fix->latitudeDeg;
        f.longitudeDeg = fix->longitudeDeg;
    }
    return f;
}

void Daemon::refreshStorage()
{
    Expected<StorageUsage> usage = storage_->usage();
    if (!usage) {
        log::error(usage.error().message);
        return;
    }
    // Too little room for a useful clip counts as full, so a press is refused with the
    // storage-full signal rather than acknowledged and then failed.
    if (usage->level != StorageLevel::Full && !storage_->admitClip(bytesPerSecond_))
        usage->level = StorageLevel::Full;
    StorageLevel previous;
    {
        std::lock_guard lock(mutex_);
        previous = storageUsage_.level;
        storageUsage_ = *usage;
    }
    if (usage->level != logic_.storage() || usage->level != previous)
        execute(logic_.storageLevel(usage->level, monoNowNs() / 1'000'000));
}

void Daemon::handle(const Event &event)
{
    const int64_t nowMs = monoNowNs() / 1'000'000;
    if (const auto *b = std::get_if<ButtonEvent>(&event)) {
        {
            std::lock_guard lock(mutex_);
            ++buttonEdges_;
            if (b->edge.pressed)
                lastPressMonoNs_ = b->edge.monoNs;
        }
        // A press in idle may start a clip: know the storage level first, so a full
        // camera refuses with its own signal instead of failing half-way.
        if (b->edge.pressed && logic_.state() == RecorderState::Idle)
            refreshStorage();
        execute(logic_.buttonEdge(b->edge.pressed, b->edge.monoNs / 1'000'000));
        return;
    }
    const ClipEvent &e = std::get<ClipEvent>(event);
    switch (e.kind) {
    case ClipEvent::Kind::Started: {
        std::lock_guard lock(mutex_);
        lastClip_ = e.clipUuid;
        break;
    }
    case ClipEvent::Kind::StorageFull:
        execute(logic_.storageLevel(StorageLevel::Full, nowMs));
        break;
    case ClipEvent::Kind::StartFailed:
    case ClipEvent::Kind::Sealed:
    case ClipEvent::Kind::SealFailed: {
        const bool ok = e.kind == ClipEvent::Kind::Sealed;
        {
            std::lock_guard lock(mutex_);
            if (!e.clipUuid.empty())
                lastClip_ = e.clipUuid;
            if (ok) {
                lastClipSeq_ = e.seq;
                chainHeadSeq_ = std::max(chainHeadSeq_, e.seq);
            } else
                lastError_ = e.detail;
        }
        if (e.rollover)
            break;
        if (logic_.state() == RecorderState::Sealing) {
            execute(logic_.clipSealed(ok, nowMs));
        } else if (logic_.state() == RecorderState::Recording) {
            // The clip ended without a stop: the writer failed. Route packets back to
            // the ring and tell the state machine the recording did not hold.
            router_->stopRecording(monoNowNs());
            execute(logic_.clipStarted(false, nowMs));
        }
        refreshStorage();
        break;
    }
    }
}

void Daemon::execute(const std::vector<RecorderAction> &actions)
{
    // Feedback first: the wearer hears and sees the press acknowledged before the pre-roll
    // (up to 120 s of video) is handed to the clip writer.
    std::vector<RecorderAction> ordered;
    for (const RecorderAction &a : actions)
        if (a.kind == RecorderAction::Kind::SetLed || a.kind == RecorderAction::Kind::PlayTone ||
            a.kind == RecorderAction::Kind::Haptic)
            ordered.push_back(a);
    for (const RecorderAction &a : actions)
        if (!(a.kind == RecorderAction::Kind::SetLed || a.kind == RecorderAction::Kind::PlayTone ||
              a.kind == RecorderAction::Kind::Haptic))
            ordered.push_back(a);
    for (const RecorderAction &a : ordered) {
        switch (a.kind) {
        case RecorderAction::Kind::StartClip: {
            int64_t press;
            {
                std::lock_guard lock(mutex_);
                press = lastPressMonoNs_ != 0 ? lastPressMonoNs_ : monoNowNs();
                recordingSinceMonoNs_ = press;
            }
            if (Expected<void> room = storage_->admitClip(bytesPerSecond_); !room) {
                log::warn(room.error().message);
                {
                    std::lock_guard lock(mutex_);
                    lastError_ = room.error().message;
                }
                execute(logic_.storageLevel(StorageLevel::Full, monoNowNs() / 1'000'000));
                break;
            }
            router_->startRecording(press);
            break;
        }
        case RecorderAction::Kind::StopClip:
            router_->stopRecording(monoNowNs());
            break;
        case RecorderAction::Kind::RollOver:
            router_->rollOver(monoNowNs());
            break;
        case RecorderAction::Kind::SetLed:
            if (Expected<void> r = hal_->led().set(a.led, a.ledMode); !r)
                log::error(r.error().message);
            break;
        case RecorderAction::Kind::PlayTone:
            if (Expected<void> r = hal_->tone().play(a.tone, tonePattern(a.tone), {}); !r)
                log::error(r.error().message);
            break;
        case RecorderAction::Kind::Haptic:
            if (Expected<void> r = hal_->haptic().pulse(a.hapticMs); !r)
                log::error(r.error().message);
            break;
        case RecorderAction::Kind::Event: {
            log::info("event: " + a.event);
            v1::MetadataRecord r;
            const int64_t now = monoNowNs();
            r.set_utc_ms(utcMsOfMono(*clock_, now));
            r.set_mono_ms(now / 1'000'000);
            r.mutable_event()->set_name(a.event);
            router_->metadata(std::move(r));
            break;
        }
        }
    }
    std::lock_guard lock(mutex_);
    if (state_ != logic_.state())
        stateChangedMonoNs_ = monoNowNs();
    state_ = logic_.state();
}

void Daemon::everySecond(int64_t nowMonoNs)
{
    if (!router_->recording())
        return;
    if (auto fix = location_->latest(nowMonoNs)) {
        v1::MetadataRecord r;
        r.set_utc_ms(utcMsOfMono(*clock_, fix->monoNs));
        r.set_mono_ms(fix->monoNs / 1'000'000);
        v1::LocationFix *l = r.mutable_location();
        l->set_latitude_deg(fix->latitudeDeg);
        l->set_longitude_deg(fix->longitudeDeg);
        l->set_altitude_m(fix->altitudeM);
        l->set_horizontal_error_m(fix->horizontalErrorM);
        l->set_fix_mode(fix->fixMode);
        l->set_source(fix->source);
        router_->metadata(std::move(r));
    }
}

Expected<void> Daemon::run(const std::atomic<bool> &stop)
{
    BWC_TRY(hal_->button().start([this](const ButtonEdge &edge) { post(ButtonEvent{edge}); }));
    recorder_->start();
    BWC_TRY(pipeline_->start());
    execute(logic_.storageLevel(storageUsage_.level, monoNowNs() / 1'000'000));
    log::info(firmwareVersion() + " ready: device " + identity_->id() + ", video " +
              pipeline_->stats().videoSource + ", board " + hal_->describe() + ", chain head seq " +
              std::to_string(chainHeadSeq_));
    sdNotify("READY=1\nSTATUS=idle, pre-recording");
    ready_ = true;

    int64_t lastSecond = monoNowNs();
    int64_t lastStorage = lastSecond;
    const int64_t watchdogNs = sdWatchdogIntervalNs();
    int64_t lastWatchdog = lastSecond;
    while (!stop) {
        std::deque<Event> batch;
        {
            std::unique_lock lock(mutex_);
            cv_.wait_for(lock, std::chrono::milliseconds(50), [this] { return !events_.empty(); });
            batch.swap(events_);
        }
        for (const Event &e : batch)
            handle(e);
        const int64_t now = monoNowNs();
        execute(logic_.tick(now / 1'000'000));
        if (now - lastSecond >= 1'000'000'000) {
            lastSecond = now;
            everySecond(now);
        }
        if (now - lastStorage >= 5'000'000'000) {
            lastStorage = now;
            refreshStorage();
        }
        if (watchdogNs > 0 && now - lastWatchdog >= watchdogNs / 2) {
            lastWatchdog = now;
            sdNotify("WATCHDOG=1");
        }
    }

    sdNotify("STOPPING=1");
    log::info("stopping");
    ready_ = false;
    if (router_->recording()) {
        log::info("stopping while recording: sealing the clip");
        router_->stopRecording(monoNowNs());
    }
    cancelOffload();  // an offload in progress stops between frames, deleting nothing
    control_->stop(); // waits for the `dock` handler
    pipeline_->stop();
    recorder_->stop(); // drains the queue, sealing the clip
    hal_->button().stop();
    location_->stop();
    return {};
}

void Daemon::cancelOffload()
{
    offloadCancel_ = true;
}

Expected<OffloadResult> Daemon::runDockOffload()
{
    const v1::CameraConfig &c = config_.config;
    auto address = parseDockAddress(c.dock().address());
    if (!address)
        return std::move(address).error().context(config_.path);
    if (c.identity().crl_path().empty())
        return Error(Errc::Config,
                     config_.path +
                         ": identity.crl_path is not set: the offload needs the agency's "
                         "CRL to check the dock's certificate; set identity.crl_path "
                         "(e.g. \"pki/crl.pem\" from `bwc pki`)");
    auto tls = net::loadTlsConfig(c.identity().cert_path(), c.identity().key_path(),
                                  c.identity().ca_path(), c.identity().crl_path());
    if (!tls)
        return std::move(tls).error().context(
            "offload: identity (cert_path, key_path, ca_path, crl_path)");

    OffloadSettings settings;
    settings.host = address->host;
    settings.port = address->port;
    settings.tls = std::move(*tls);
    settings.tls.nowUtcMs = clock_->utcMs();
    settings.clipDir = paths_.clipDir;
    settings.cancel = &offloadCancel_;
    settings.progress = [this](uint64_t sent, uint64_t total) {
        offloadSent_ = sent;
        offloadTotal_ = total;
    };
    log::info("offload: docking at " + c.dock().address());
    return runOffload(*backend_, *identity_, *chain_, *offloadHost_, settings);
}

std::string Daemon::dock()
{
    if (config_.config.dock().address().empty())
        return errorJson("no dock configured: set dock.address (HOST:PORT) in " + config_.path);
    bool idle = false;
    if (!offloadRunning_.compare_exchange_strong(idle, true))
        return errorJson("offload already running");
    struct Running {
        std::atomic<bool> &flag;
        ~Running() { flag = false; }
    } running{offloadRunning_};
    {
        std::lock_guard lock(mutex_);
        if (state_ != RecorderState::Idle)
            return errorJson("recording in progress: stop recording before docking");
    }
    if (offloadCancel_)
        return errorJson("bwc-camd is shutting down");
    offloadSent_ = 0;
    offloadTotal_ = 0;

    Expected<OffloadResult> result = runDockOffload();
    std::string answer;
    if (result) {
        const OffloadResult &r = *result;
        {
            // The Welcome's time was compared with ours: whether or not it had to be
            // stepped, the clock is now within 1 s of the dock's.
            std::lock_guard lock(mutex_);
            if (clockSource_ != v1::CLOCK_SOURCE_NTP && clockSource_ != v1::CLOCK_SOURCE_GNSS) {
                clockSource_ = v1::CLOCK_SOURCE_DOCK;
                clockErrorMs_ = 1000;
            }
        }
        std::string wiped = "[";
        for (size_t i = 0; i < r.wipedSeqs.size(); ++i)
            wiped += (i ? "," : "") + std::to_string(r.wipedSeqs[i]);
        wiped += "]";
        answer = JsonObject()
                     .add("ok", true)
                     .add("dock_id", r.dockId)
                     .add("offered", r.manifestsOffered)
                     .add("stored", r.manifestsStored)
                     .add("bytes_sent", r.bytesSent)
                     .add("resumed_from", r.bytesResumedFrom)
                     .addRaw("wiped", wiped)
                     .add("wipe_seq", r.wipeSeq)
                     .add("receipt_last_seq", r.receiptLastSeq)
                     .add("refused", r.refusedReason)
                     .add("clock_set", r.clockSet)
                     .add("config_saved", r.configSaved)
                     .add("config_error", r.configError)
                     .add("crl_saved", r.crlSaved)
                     .add("crl_error", r.crlError)
                     .add("officer_id", r.officerId)
                     .str();
        log::info("offload to " + r.dockId + ": " + answer);
    } else {
        answer = errorJson(result.error().message);
        log::error("offload: " + result.error().message);
    }
    std::lock_guard lock(mutex_);
    chainHeadSeq_ = std::max(chainHeadSeq_, chain_->head().seq());
    offloadLastResult_ = answer;
    offloadLastError_ = result ? std::string() : result.error().message;
    offloadLastUtcMs_ = clock_->utcMs();
    return answer;
}

std::string Daemon::flag()
{
    const ClipRecorderStatus rec = recorder_->status();
    std::string uuid;
    bool recording;
    {
        std::lock_guard lock(mutex_);
        recording = state_ != RecorderState::Idle;
        uuid = rec.active ? rec.clipUuid : lastClip_;
    }
    if (recording && !rec.active)
        return errorJson("the recording is opening its clip file; flag again in a moment");
    if (uuid.empty())
        return errorJson("no clip to flag: nothing has been recorded since bwc-camd started");
    const auto parsed = container::uuidFromString(uuid);
    if (!parsed)
        return errorJson("clip id \"" + uuid + "\" is not a uuid");
    if (!rec.active && !pathExists(chain::clipFilePath(paths_.clipDir, *parsed)))
        return errorJson("clip " + uuid + " is no longer on the camera (offloaded and deleted)");
    const std::string path = clipFlagPath(paths_.clipDir, uuid);
    if (auto written = atomicReplace(path, asBytes(formatUtcMs(clock_->utcMs()) + "\n"), 0600);
        !written)
        return errorJson("flagging clip " + uuid + ": " + written.error().message);
    log::info("clip " + uuid + " flagged by the officer");
    return JsonObject().add("ok", true).add("flagged", uuid).add("recording", rec.active).str();
}

std::string Daemon::statusJson() const
{
    const PipelineStats p = pipeline_->stats();
    const RouterStats r = router_->stats();
    const ClipRecorderStatus rec = recorder_->status();
    JsonObject pipeline;
    pipeline.add("video_source", p.videoSource)
        .add("audio_source", p.audioSource)
        .add("frames", p.frames)
        .add("dropped_frames", p.droppedFrames)
        .add("last_frame_index", p.lastFrameIndex)
        .add("last_frame_mono_ns", p.lastFrameMonoNs)
        .add("audio_blocks", p.audioBlocks)
        .add("source_errors", p.sourceErrors)
        .add("watermark_renders", p.watermarkRenders)
        .add("last_error", p.lastError);
    JsonObject ring;
    ring.add("capacity_bytes", r.ring.capacityBytes)
        .add("used_bytes", r.ring.usedBytes)
        .add("packets", r.ring.packets)
        .add("gops", r.ring.gops)
        .add("duration_ms", r.ring.durationMs)
        .add("evicted_gops", r.ring.evictedGops)
        .add("dropped_packets", r.ring.droppedPackets)
        .add("locked", r.ring.locked)
        .add("queue_bytes", r.queuedBytes)
        .add("queue_dropped", r.queueDropped);
    JsonObject clip;
    clip.add("active", rec.active)
        .add("uuid", rec.clipUuid)
        .add("bytes", rec.clipBytes)
        .add("media_ms", rec.mediaMs)
        .add("prerecord_ms", rec.prerecordMs)
        .add("checkpoints", rec.checkpoints)
        .add("clips_sealed", rec.clipsSealed)
        .add("packets_written", rec.packetsWritten)
        .add("last_error", rec.lastError);

    const bool offloadRunning = offloadRunning_.load();
    const bool configPending = offloadHost_ && offloadHost_->configPendingRestart();
    std::lock_guard lock(mutex_);
    JsonObject offload;
    offload.add("running", offloadRunning)
        .add("dock_address", config_.config.dock().address())
        .add("bytes_sent", offloadSent_.load())
        .add("bytes_total", offloadTotal_.load())
        .add("last_utc_ms", offloadLastUtcMs_)
        .add("last_error", offloadLastError_);
    if (offloadLastResult_.empty())
        offload.addRaw("last_result", "null");
    else
        offload.addRaw("last_result", offloadLastResult_);
    JsonObject storage;
    storage.add("path", paths_.clipDir)
        .add("total_bytes", storageUsage_.totalBytes)
        .add("free_bytes", storageUsage_.freeBytes)
        .add("clip_bytes", storageUsage_.clipBytes)
        .add("clip_count", storageUsage_.clipCount)
        .add("used_percent", storageUsage_.usedPercent)
        .add("level", storageUsage_.level == StorageLevel::Ok        ? "ok"
                      : storageUsage_.level == StorageLevel::Warning ? "warning"
                                                                     : "full");
    JsonObject leds;
    leds.add("record", ledModeName(history_.ledMode(LedId::Record)))
        .add("status", ledModeName(history_.ledMode(LedId::Status)));
    return JsonObject()
        .add("ok", true)
        .add("version", firmwareVersion())
        .add("device_id", identity_->id())
        .add("officer_id", officerId_)
        .add("state", recorderStateName(state_))
        .add("board", hal_->describe())
        .add("clock_source", v1::ClockSource_Name(clockSource_))
        .add("mono_ns", monoNowNs())
        .add("uptime_ms", (monoNowNs() - startMonoNs_) / 1'000'000)
        .add("ready", ready_.load())
        .add("button_edges", buttonEdges_)
        .add("last_press_mono_ns", lastPressMonoNs_)
        .add("recording_since_mono_ns", recordingSinceMonoNs_)
        .add("state_changed_mono_ns", stateChangedMonoNs_)
        .add("last_clip", lastClip_)
        .add("last_clip_seq", lastClipSeq_)
        .add("chain_head_seq", chainHeadSeq_)
        .add("last_error", lastError_)
        .add("config_pending_restart", configPending)
        .addRaw("offload", offload.str())
        .addRaw("pipeline", pipeline.str())
        .addRaw("ring", ring.str())
        .addRaw("clip", clip.str())
        .addRaw("storage", storage.str())
        .addRaw("leds", leds.str())
        .addRaw("led_history", ledHistoryJson(history_.leds(), 32))
        .addRaw("tone_history", toneHistoryJson(history_.tones(), 32))
        .str();
}

} // namespace bwc::fw
