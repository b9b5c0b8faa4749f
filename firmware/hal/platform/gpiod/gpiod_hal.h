#pragma once

// Real boards (hal.backend = "gpiod"): GPIO lines through libgpiod v2, found by name.
//
// - hal.gpio_chip: a device path ("/dev/gpiochip0") or a chip label or name
//   ("pinctrl-bcm2711", "gpiochip0") searched among /dev/gpiochip*.
// - hal.button_line (required): the record button, wired active-low (it pulls the line to
//   ground against the pull-up the backend enables). The line is requested active-low, so
//   "active" means pressed on every board and a rising edge event is a press. Edge
//   detection on both edges, kernel debounce 10 ms, monotonic event clock. Because of
//   the debounce, an edge's monoNs is when the line had been stable for 10 ms (about
//   10 ms after the contact closed). One thread polls the request's fd and an eventfd
//   (for stop) and delivers the edges.
// - hal.record_led_line, hal.status_led_line, hal.haptic_line (each optional: an empty
//   name means the board has no such output, and setting it only records it): active-high
//   outputs, requested together, initially off. Blinking (1 Hz slow, 4 Hz fast) and the
//   haptic pulse are timed by an OutputTimer thread; pulse() returns at once. The outputs
//   are switched off when the Hal is destroyed.
// - hal.tone_device: the ALSA device for tones. Empty is allowed (a board without a
//   speaker): tones are then recorded in the history but silent (never reported as
//   started).

#include <memory>
#include <string>

#include "firmware/hal/hal.h"

namespace bwc::fw {

// Resolves hal.gpio_chip to a device path. A path is returned as it is (opening it
// reports problems); anything else is matched against the label and name of every
// `devDir`/gpiochip*. Errc::Config when empty; Errc::Device when no chip matches, naming
// what was searched.
Expected<std::string> findGpioChip(const std::string &spec, const std::string &devDir = "/dev");

// Errc::Config naming the field for a missing or unknown line name; Errc::Device when the
// chip, a line request or the tone device fails.
Expected<std::unique_ptr<Hal>> openGpiodHal(const v1::HalConfig &config);

} // namespace bwc::fw
