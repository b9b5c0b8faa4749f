# 64-bit Arm boards (Debian arm64): Debian's g++-aarch64-linux-gnu against a sysroot from
# scripts/sysroot (--arch arm64), tests under qemu-aarch64. See debian-cross.cmake.
set(BWC_CROSS_TRIPLET aarch64-linux-gnu)
set(BWC_CROSS_PROCESSOR aarch64)
set(BWC_CROSS_DEBIAN_ARCH arm64)
set(BWC_CROSS_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
