#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <catch2/catch_test_macros.hpp>

#include "common/base/clock.h"
#include "firmware/capture/video_source.h"
#include "tests/unit/firmware/capture/capture_test_util.h"

using namespace bwc;
using namespace bwc::fw;

namespace {

#ifdef BWC_FFMPEG

// Test files made with the ffmpeg CLI on first use, once per test process, in a fresh
// temporary directory: one second of synthetic 320x240 frames at 30 fps encoded losslessly
// (FFV1 in Matroska) or lossily (MPEG-4 part 2 at a low bitrate in MP4), and an audio-only file.
class TestFiles
{
public:
    static TestFiles &get()
    {
        static TestFiles files;
        return files;
    }
    ~TestFiles() { std::filesystem::remove_all(dir_); }

    const std::string &lossless() { return make(lossless_, "lossless.mkv", "-c:v ffv1"); }
    const std::string &lossy() { return make(lossy_, "lossy.mp4", "-c:v mpeg4 -b:v 150k"); }
    const std::string &audioOnly()
    {
        if (audioOnly_.empty()) {
            const std::string path = (dir_ / "tone.wav").string();
            run("-f lavfi -i sine=frequency=440:duration=0.2 " + path);
            audioOnly_ = path;
        }
        return audioOnly_;
    }

private:
    TestFiles()
    {
        char pattern[] = "/tmp/bwc-capture-test-XXXXXX";
        REQUIRE(mkdtemp(pattern) != nullptr);
        dir_ = pattern;
    }

    static void run(const std::string &arguments)
    {
        const std::string command = std::string(BWC_FFMPEG) + " -nostdin -v error -y " + arguments;
        INFO(command);
        REQUIRE(std::system(command.c_str()) == 0);
    }

    const std::string &make(std::string &path, const char *name, const std::string &codec)
    {
        if (path.empty()) {
            const std::string out = (dir_ / name).string();
            run("-f rawvideo -pix_fmt yuv420p -s 320x240 -r 30 -i " + rawFrames() + " " + codec +
                " " + out);
            path = out;
        }
        return path;
    }

    const std::string &rawFrames()
    {
        if (raw_.empty()) {
            const std::string path = (dir_ / "frames.yuv").string();
            std::ofstream out(path, std::ios::binary);
            Frame frame(320, 240);
            for (uint64_t i = 0; i < 30; ++i) {
                renderSyntheticFrame(i, 30, frame);
                for (int p = 0; p < 3; ++p)
                    for (uint32_t y = 0; y < frame.planeHeight(p); ++y)
                        out.write(reinterpret_cast<const char *>(frame.plane(p)) +
                                      static_cast<size_t>(y) * frame.stride(p),
                                  frame.planeWidth(p));
            }
            out.close();
            REQUIRE(out.good());
            raw_ = path;
        }
        return raw_;
    }

    std::filesystem::path dir_;
    std::string raw_;
    std::string lossless_;
    std::string lossy_;
    std::string audioOnly_;
};

#define REQUIRE_FFMPEG() TestFiles &files = TestFiles::get()

#else

#define REQUIRE_FFMPEG()                                                                           \
    SKIP("the ffmpeg CLI was not found at configure time");                                        \
    struct {                                                                                       \
        std::string lossless() { return {}; }                                                      \
        std::string lossy() { return {}; }                                                         \
        std::string audioOnly() { return {}; }                                                     \
    } files

#endif

VideoSourceOptions fileOptions(const std::string &path, uint32_t width, uint32_t height, bool loop)
{
    VideoSourceOptions options;
    options.kind = "file";
    options.device = path;
    options.format = {width, height, 30};
    options.paced = false;
    options.loop = loop;
    return options;
}

} // namespace

TEST_CASE("file source replays every frame exactly, then reports the end", "[capture]")
{
    REQUIRE_FFMPEG();
    auto source = openVideoSource(fileOptions(files.lossless(), 320, 240, false));
    REQUIRE(source.ok());
    CHECK((*source)->describe().find("file:" + files.lossless()) == 0);
    CHECK((*source)->describe().find("ffv1") != std::string::npos);
    REQUIRE((*source)->start().ok());
    Frame expected(320, 240);
    for (uint64_t i = 0; i < 30; ++i) {
        CAPTURE(i);
        auto frame = (*source)->next(100);
        REQUIRE(frame.ok());
        REQUIRE(*frame != nullptr);
        CHECK((*frame)->width() == 320);
        CHECK((*frame)->height() == 240);
        CHECK((*frame)->index == i);
        CHECK((*frame)->monoNs == static_cast<int64_t>(i * 1'000'000'000ull / 30));
        renderSyntheticFrame(i, 30, expected);
        CHECK(test::samePixels(**frame, expected));
    }
    for (int k = 0; k < 3; ++k) {
        auto end = (*source)->next(100);
        REQUIRE(end.ok());
        CHECK(*end == nullptr);
    }
}

TEST_CASE("file source loops with increasing indexes", "[capture]")
{
    REQUIRE_FFMPEG();
    auto source = openVideoSource(fileOptions(files.lossless(), 320, 240, true));
    REQUIRE(source.ok());
    REQUIRE((*source)->start().ok());
    for (uint64_t i = 0; i < 75; ++i) {
        CAPTURE(i);
        auto frame = (*source)->next(100);
        REQUIRE(frame.ok());
        REQUIRE(*frame != nullptr);
        CHECK((*frame)->index == i);
        CHECK(readFrameCounter((*frame)->plane(0), (*frame)->stride(0), 320, 240) == i % 30);
    }
    // stop() and start() begin again at the first frame of the file.
    (*source)->stop();
    REQUIRE((*source)->start().ok());
    auto frame = (*source)->next(100);
    REQUIRE(frame.ok());
    REQUIRE(*frame != nullptr);
    CHECK((*frame)->index == 0);
    CHECK(readFrameCounter((*frame)->plane(0), (*frame)->stride(0), 320, 240) == uint64_t(0));
}

TEST_CASE("paced file source re-times the file's frames to the requested rate", "[capture]")
{
    REQUIRE_FFMPEG();
    VideoSourceOptions options = fileOptions(files.lossless(), 320, 240, true);
    options.paced = true;
    options.format.fps = 60; // the file has 30 fps; the source delivers at 60
    auto source = openVideoSource(options);
    REQUIRE(source.ok());
    REQUIRE((*source)->format().fps == 60);
    const int64_t before = monoNowNs();
    REQUIRE((*source)->start().ok());
    int64_t first = 0;
    for (uint64_t i = 0; i < 6; ++i) {
        auto frame = (*source)->next(1000);
        REQUIRE(frame.ok());
        REQUIRE(*frame != nullptr);
        CHECK((*frame)->index == i);
        if (i == 0)
            first = (*frame)->monoNs;
        CHECK((*frame)->monoNs - first == static_cast<int64_t>(i * 1'000'000'000ull / 60));
        CHECK(readFrameCounter((*frame)->plane(0), (*frame)->stride(0), 320, 240) == i);
    }
    CHECK(monoNowNs() - before >= 80'000'000);
}

TEST_CASE("file source scales to the requested size", "[capture]")
{
    REQUIRE_FFMPEG();
    auto source = openVideoSource(fileOptions(files.lossless(), 640, 480, false));
    REQUIRE(source.ok());
    CHECK((*source)->format().width == 640);
    CHECK((*source)->format().height == 480);
    REQUIRE((*source)->start().ok());
    for (uint64_t i = 0; i < 30; ++i) {
        auto frame = (*source)->next(100);
        REQUIRE(frame.ok());
        REQUIRE(*frame != nullptr);
        CHECK((*frame)->width() == 640);
        CHECK((*frame)->height() == 480);
        // The counter layout scales with the width, so it reads back after a 2x upscale.
        CHECK(readFrameCounter((*frame)->plane(0), (*frame)->stride(0), 640, 480) == i);
    }
    auto end = (*source)->next(100);
    REQUIRE(end.ok());
    CHECK(*end == nullptr);
}

TEST_CASE("frame counter survives lossy compression", "[capture]")
{
    REQUIRE_FFMPEG();
    auto source = openVideoSource(fileOptions(files.lossy(), 320, 240, false));
    REQUIRE(source.ok());
    REQUIRE((*source)->start().ok());
    uint64_t count = 0;
    for (;;) {
        auto frame = (*source)->next(100);
        REQUIRE(frame.ok());
        if (*frame == nullptr)
            break;
        CHECK(readFrameCounter((*frame)->plane(0), (*frame)->stride(0), 320, 240) == count);
        ++count;
    }
    CHECK(count == 30);
}

TEST_CASE("file source: a missing file is NotFound naming the path", "[capture]")
{
    const std::string missing = "/tmp/bwc-capture-no-such-dir/clip.mp4";
    auto none = openVideoSource(fileOptions(missing, 320, 240, true));
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().code == Errc::NotFound);
    CHECK(none.error().message.find(missing) != std::string::npos);
    CHECK(none.error().message.find("cannot open") != std::string::npos);
}

TEST_CASE("file source: a file without video is a format error naming the path", "[capture]")
{
    REQUIRE_FFMPEG();
    auto audio = openVideoSource(fileOptions(files.audioOnly(), 320, 240, true));
    REQUIRE_FALSE(audio.ok());
    CHECK(audio.error().code == Errc::Format);
    CHECK(audio.error().message.find(files.audioOnly()) != std::string::npos);
    CHECK(audio.error().message.find("no video stream") != std::string::npos);
}
