#pragma once

// Owning handles for the libgpiod v2 C objects the gpiod backend uses. Each frees its
// object with the matching libgpiod call.

#include <gpiod.h>
#include <memory>

namespace bwc::fw::gpio {

template <typename T, void (*Free)(T *)> struct Deleter {
    void operator()(T *p) const { Free(p); }
};

template <typename T, void (*Free)(T *)> using Handle = std::unique_ptr<T, Deleter<T, Free>>;

using Chip = Handle<gpiod_chip, gpiod_chip_close>;
using ChipInfo = Handle<gpiod_chip_info, gpiod_chip_info_free>;
using LineInfo = Handle<gpiod_line_info, gpiod_line_info_free>;
using LineSettings = Handle<gpiod_line_settings, gpiod_line_settings_free>;
using LineConfig = Handle<gpiod_line_config, gpiod_line_config_free>;
using RequestConfig = Handle<gpiod_request_config, gpiod_request_config_free>;
using LineRequest = Handle<gpiod_line_request, gpiod_line_request_release>;
using EdgeEventBuffer = Handle<gpiod_edge_event_buffer, gpiod_edge_event_buffer_free>;

} // namespace bwc::fw::gpio
