# 32-bit Arm boards with hardware floating point (Debian armhf, ARMv7): Debian's
# g++-arm-linux-gnueabihf against a sysroot from scripts/sysroot (--arch armhf), tests
# under qemu-arm. See debian-cross.cmake.
set(BWC_CROSS_TRIPLET arm-linux-gnueabihf)
set(BWC_CROSS_PROCESSOR armv7l)
set(BWC_CROSS_DEBIAN_ARCH armhf)
set(BWC_CROSS_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
