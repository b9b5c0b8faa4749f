// gpsd client (libgps, JSON watch mode) on a thread of its own.
//
// The thread connects, asks for a JSON watch, then reads reports with gps_waiting() (a
// short timeout, so stop() is prompt) and gps_read(). Each TPV report with a 2D or 3D fix
// becomes the latest sample; a TPV without a fix (mode 1) clears it. When gpsd goes away
// (connection refused, closed, read error) the thread retries every kReconnectInterval;
// the last fix stays until it ages out in latest().

#include <gps.h>

#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <mutex>
#include <pthread.h>
#include <thread>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "firmware/location/providers.h"

namespace bwc::fw {

namespace {

constexpr auto kReconnectInterval = std::chrono::seconds(2);
constexpr int kWaitUs = 200'000;

// An open libgps session: streaming is disabled and the socket closed on destruction.
class GpsSession
{
public:
    GpsSession() : data_(std::make_unique<gps_data_t>()) {}
    GpsSession(const GpsSession &) = delete;
    GpsSession &operator=(const GpsSession &) = delete;
    ~GpsSession() { close(); }

    // 0 on success, else a libgps error code for gps_errstr().
    int open(const std::string &host, const std::string &port)
    {
        close();
        std::memset(data_.get(), 0, sizeof(gps_data_t));
        errno = 0;
        if (gps_open(host.c_str(), port.c_str(), data_.get()) != 0)
            return errno != 0 ? errno : -1;
        open_ = true;
        return 0;
    }

    // `polite`: tell gpsd to stop streaming first (only while the connection is alive).
    void close(bool polite = false)
    {
        if (!open_)
            return;
        if (polite)
            gps_stream(data_.get(), WATCH_DISABLE, nullptr);
        gps_close(data_.get());
        open_ = false;
    }

    gps_data_t *get() { return data_.get(); }

private:
    std::unique_ptr<gps_data_t> data_;
    bool open_ = false;
};

double horizontalError(const gps_fix_t &fix)
{
    if (std::isfinite(fix.eph))
        return fix.eph;
    if (std::isfinite(fix.epx) && std::isfinite(fix.epy))
        return std::hypot(fix.epx, fix.epy);
    return std::nan("");
}

double altitude(const gps_fix_t &fix)
{
    if (fix.mode < MODE_3D)
        return std::nan("");
    if (std::isfinite(fix.altMSL))
        return fix.altMSL;
    if (std::isfinite(fix.altHAE))
        return fix.altHAE;
    return std::nan("");
}

class GpsdProvider final : public LocationProvider
{
public:
    GpsdProvider(std::string host, std::string port)
        : host_(std::move(host)), port_(std::move(port))
    {
    }

    ~GpsdProvider() override { stop(); }

    std::string describe() const override
    {
        const bool v6 = host_.find(':') != std::string::npos;
        return "gpsd:" + (v6 ? "[" + host_ + "]" : host_) + ":" + port_;
    }

    Expected<void> start() override
    {
        if (thread_.joinable())
            return {};
        {
            std::lock_guard lock(stopMutex_);
            stopRequested_ = false;
        }
        thread_ = std::thread([this] { run(); });
        return {};
    }

    std::optional<LocationSample> latest(int64_t nowMonoNs, int64_t maxAgeMs) const override
    {
        std::lock_guard lock(sampleMutex_);
        if (!sample_ || nowMonoNs - sample_->monoNs > maxAgeMs * 1'000'000)
            return std::nullopt;
        return sample_;
    }

    void stop() override
    {
        {
            std::lock_guard lock(stopMutex_);
            stopRequested_ = true;
        }
        stopCv_.notify_all();
        if (thread_.joinable())
            thread_.join();
        std::lock_guard lock(sampleMutex_);
        sample_.reset();
    }

private:
    bool stopping()
    {
        std::lock_guard lock(stopMutex_);
        return stopRequested_;
    }

    // Sleeps for `d` unless stop() comes first; true when stopping.
    bool waitOrStop(std::chrono::milliseconds d)
    {
        std::unique_lock lock(stopMutex_);
        return stopCv_.wait_for(lock, d, [this] { return stopRequested_; });
    }

    // The first failure of a run is a warning, the retries that follow are debug.
    static void logAttempt(const std::string &message, bool &failing)
    {
        if (failing)
            log::debug(message);
        else
            log::warn(message);
        failing = true;
    }

    void run()
    {
        // libgps writes with write(): a gpsd that closed the connection must give EPIPE on
        // this thread, not a SIGPIPE that ends the process.
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe, nullptr);

        GpsSession session;
        bool failing = false; // log a run of failed attempts once
        while (!stopping()) {
            if (int err = session.open(host_, port_); err != 0) {
                const std::string m =
                    describe() + ": cannot connect (" + gps_errstr(err) + "); retrying every " +
                    std::to_string(kReconnectInterval.count()) + " s; is gpsd running?";
                logAttempt(m, failing);
                if (waitOrStop(kReconnectInterval))
                    break;
                continue;
            }
            if (gps_stream(session.get(), WATCH_ENABLE | WATCH_JSON, nullptr) != 0) {
                const std::string m = describe() + ": cannot start the JSON watch (" +
                                      std::string(std::strerror(errno)) + "); retrying";
                logAttempt(m, failing);
                session.close();
                if (waitOrStop(kReconnectInterval))
                    break;
                continue;
            }
            log::info(describe() + ": connected");
            failing = false;
            bool alive = true;
            while (!stopping()) {
                if (!gps_waiting(session.get(), kWaitUs))
                    continue;
                session.get()->set = 0;
                if (gps_read(session.get(), nullptr, 0) == -1) {
                    log::warn(describe() + ": connection lost; reconnecting every " +
                              std::to_string(kReconnectInterval.count()) + " s");
                    failing = true;
                    alive = false;
                    break;
                }
                handleReport(*session.get());
            }
            session.close(alive);
            if (!stopping() && waitOrStop(kReconnectInterval))
                break;
        }
    }

    void handleReport(const gps_data_t &data)
    {
        // Only a TPV report sets MODE_SET (set was cleared before the read).
        if (!(data.set & MODE_SET))
            return;
        const gps_fix_t &fix = data.fix;
        std::lock_guard lock(sampleMutex_);
        if (fix.mode < MODE_2D) {
            if (fix.mode == MODE_NO_FIX)
                sample_.reset();
            return;
        }
        if (!(data.set & LATLON_SET) || !std::isfinite(fix.latitude) ||
            !std::isfinite(fix.longitude) || checkCoordinates(fix.latitude, fix.longitude))
            return;
        LocationSample s;
        s.latitudeDeg = fix.latitude;
        s.longitudeDeg = fix.longitude;
        s.altitudeM = altitude(fix);
        s.horizontalErrorM = horizontalError(fix);
        s.fixMode = static_cast<uint32_t>(fix.mode);
        s.monoNs = monoNowNs();
        s.source = "gpsd";
        sample_ = std::move(s);
    }

    std::string host_;
    std::string port_;
    std::thread thread_;
    std::mutex stopMutex_;
    std::condition_variable stopCv_;
    bool stopRequested_ = false;
    mutable std::mutex sampleMutex_;
    std::optional<LocationSample> sample_;
};

} // namespace

std::unique_ptr<LocationProvider> makeGpsdProvider(std::string host, std::string port)
{
    return std::make_unique<GpsdProvider>(std::move(host), std::move(port));
}

} // namespace bwc::fw
