// The gpiod backend's error paths. This machine has no GPIO chip (and no gpio-sim), so
// requesting real lines is exercised by the qemu-virt board tests, not here.

#include <catch2/catch_test_macros.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <unistd.h>

#include "firmware/hal/hal.h"
#include "firmware/hal/platform/gpiod/gpiod_hal.h"

using namespace bwc;
using namespace bwc::fw;

namespace {

v1::HalConfig gpiodConfig(const std::string &chip)
{
    v1::HalConfig c;
    c.set_backend("gpiod");
    c.set_gpio_chip(chip);
    c.set_button_line("REC_BTN");
    c.set_record_led_line("REC_LED");
    return c;
}

bool contains(const std::string &s, const std::string &part)
{
    return s.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("gpiod: a chip path that does not exist is Errc::Device naming it")
{
    HalHistory h;
    auto hal = openHal(gpiodConfig("/dev/gpiochip-bwc-missing"), h);
    REQUIRE_FALSE(hal);
    REQUIRE(hal.error().code == Errc::Device);
    INFO(hal.error().message);
    REQUIRE(contains(hal.error().message, "hal.gpio_chip = \"/dev/gpiochip-bwc-missing\""));
    REQUIRE(contains(hal.error().message, "No such file or directory"));
}

TEST_CASE("gpiod: a path that is not a GPIO chip is Errc::Device")
{
    HalHistory h;
    auto hal = openHal(gpiodConfig("/dev/null"), h);
    REQUIRE_FALSE(hal);
    REQUIRE(hal.error().code == Errc::Device);
    INFO(hal.error().message);
    REQUIRE(contains(hal.error().message, "cannot open \"/dev/null\": not a GPIO chip device"));
}

TEST_CASE("gpiod: a chip label that matches no chip names what was searched")
{
    HalHistory h;
    auto hal = openHal(gpiodConfig("bwc-no-such-label"), h);
    REQUIRE_FALSE(hal);
    REQUIRE(hal.error().code == Errc::Device);
    INFO(hal.error().message);
    REQUIRE(contains(hal.error().message,
                     "hal.gpio_chip = \"bwc-no-such-label\": no GPIO chip with that label"));
    REQUIRE(contains(hal.error().message, "searched /dev/gpiochip*"));

    // In a directory of our own: nothing there, then a file that only looks like a chip.
    char tmpl[] = "/tmp/bwc-hal-gpio-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    const std::string dir = tmpl;
    auto none = findGpioChip("pinctrl", dir);
    REQUIRE_FALSE(none);
    REQUIRE(none.error().code == Errc::Device);
    REQUIRE(contains(none.error().message, "(searched " + dir + "/gpiochip*: none found)"));

    const std::string fake = dir + "/gpiochip0";
    std::ofstream(fake) << "not a chip";
    std::ofstream(dir + "/other") << "ignored";
    auto notChip = findGpioChip("pinctrl", dir);
    REQUIRE_FALSE(notChip);
    REQUIRE(notChip.error().code == Errc::Device);
    INFO(notChip.error().message);
    REQUIRE(contains(notChip.error().message,
                     "(searched " + dir + "/gpiochip*: " + fake + " (not a GPIO chip))"));
    REQUIRE_FALSE(contains(notChip.error().message, "other"));
    std::remove(fake.c_str());
    std::remove((dir + "/other").c_str());
    rmdir(dir.c_str());

    auto missingDir = findGpioChip("pinctrl", "/nonexistent-bwc-dir");
    REQUIRE_FALSE(missingDir);
    REQUIRE(missingDir.error().code == Errc::Device);
    REQUIRE(contains(missingDir.error().message, "cannot list /nonexistent-bwc-dir"));
}

TEST_CASE("gpiod: an empty chip is Errc::Config; a path is taken as it is")
{
    auto empty = findGpioChip("");
    REQUIRE_FALSE(empty);
    REQUIRE(empty.error().code == Errc::Config);
    REQUIRE(contains(empty.error().message, "hal.gpio_chip is empty"));

    HalHistory h;
    auto hal = openHal(gpiodConfig(""), h);
    REQUIRE_FALSE(hal);
    REQUIRE(hal.error().code == Errc::Config);
    REQUIRE(contains(hal.error().message, "hal.gpio_chip"));

    auto path = findGpioChip("/dev/gpiochip3");
    REQUIRE(path);
    REQUIRE(*path == "/dev/gpiochip3");
}
