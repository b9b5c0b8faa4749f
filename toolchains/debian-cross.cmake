# Shared part of the Debian cross toolchain files (aarch64-linux-gnu.cmake,
# arm-linux-gnueabihf.cmake): Debian's cross compiler (g++-<triplet>) against a target
# sysroot made by scripts/sysroot, with the target's libraries, headers and C runtime,
# and qemu-user to run the tests (CMAKE_CROSSCOMPILING_EMULATOR).
#
# The including file sets BWC_CROSS_TRIPLET, BWC_CROSS_PROCESSOR, BWC_CROSS_DEBIAN_ARCH and
# BWC_CROSS_QEMU. Inputs: BWC_SYSROOT (cache variable or environment variable), the
# sysroot's folder; without it, BWC_CROSS_SUITE (bookworm, trixie: set by the presets)
# names scripts/sysroot's cached sysroot for that suite and architecture.
#
# Debian's cross compilers search their own copy of the C library (/usr/<triplet>, the
# host's Debian release) before any --sysroot. So that a sysroot of another release
# (Debian 13 on a Debian 12 host) is used whole, the C library's headers, start files and
# libraries are taken from the sysroot explicitly; only the compiler's own C++ headers
# and builtin headers come from the cross compiler, and the target's libstdc++ is linked.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${BWC_CROSS_PROCESSOR})
set(CMAKE_LIBRARY_ARCHITECTURE ${BWC_CROSS_TRIPLET})

if(NOT BWC_SYSROOT AND DEFINED ENV{BWC_SYSROOT})
  set(BWC_SYSROOT "$ENV{BWC_SYSROOT}")
endif()
if(NOT BWC_SYSROOT AND BWC_CROSS_SUITE)
  if(DEFINED ENV{XDG_CACHE_HOME} AND NOT "$ENV{XDG_CACHE_HOME}" STREQUAL "")
    set(_bwc_cache "$ENV{XDG_CACHE_HOME}")
  else()
    set(_bwc_cache "$ENV{HOME}/.cache")
  endif()
  set(_bwc_default "${_bwc_cache}/bwc/sysroot/${BWC_CROSS_SUITE}-${BWC_CROSS_DEBIAN_ARCH}")
  if(NOT EXISTS "${_bwc_default}/root.stamp")
    message(FATAL_ERROR
      "no ${BWC_CROSS_SUITE} ${BWC_CROSS_DEBIAN_ARCH} sysroot in ${_bwc_default}: make it with "
      "`scripts/sysroot --suite ${BWC_CROSS_SUITE} --arch ${BWC_CROSS_DEBIAN_ARCH}` (or run "
      "scripts/cross), or pass -DBWC_SYSROOT=<folder>")
  endif()
  set(BWC_SYSROOT "${_bwc_default}/root")
endif()
if(NOT BWC_SYSROOT)
  message(FATAL_ERROR
    "BWC_SYSROOT is not set: the ${BWC_CROSS_TRIPLET} build needs a target sysroot. Make one "
    "with `scripts/sysroot --suite trixie --arch <arm64|armhf>` and pass its printed path as "
    "-DBWC_SYSROOT=... (or in the environment), or run scripts/cross, which does both.")
endif()
if(NOT EXISTS "${BWC_SYSROOT}/usr/lib/${BWC_CROSS_TRIPLET}/libc.so.6")
  message(FATAL_ERROR
    "BWC_SYSROOT=${BWC_SYSROOT} is not a ${BWC_CROSS_TRIPLET} sysroot (no "
    "usr/lib/${BWC_CROSS_TRIPLET}/libc.so.6): make it with scripts/sysroot for the matching --arch.")
endif()
set(BWC_SYSROOT "${BWC_SYSROOT}" CACHE PATH "Target sysroot (scripts/sysroot)")
# try_compile projects read this file again: hand them the sysroot.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES BWC_SYSROOT)
set(CMAKE_SYSROOT "${BWC_SYSROOT}")

find_program(BWC_CROSS_CC ${BWC_CROSS_TRIPLET}-gcc)
find_program(BWC_CROSS_CXX ${BWC_CROSS_TRIPLET}-g++)
if(NOT BWC_CROSS_CC OR NOT BWC_CROSS_CXX)
  message(FATAL_ERROR
    "${BWC_CROSS_TRIPLET}-g++ was not found: install Debian's cross compiler "
    "(apt-get install g++-${BWC_CROSS_TRIPLET}), or run scripts/cross, which installs it.")
endif()
set(CMAKE_C_COMPILER "${BWC_CROSS_CC}")
set(CMAKE_CXX_COMPILER "${BWC_CROSS_CXX}")

# The compiler's own headers: builtin (stddef.h, arm_neon.h, ...) and libstdc++'s.
execute_process(COMMAND "${BWC_CROSS_CXX}" -print-file-name=include
  OUTPUT_VARIABLE _bwc_gcc_include OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND "${BWC_CROSS_CXX}" -x c++ -E -v /dev/null
  OUTPUT_QUIET ERROR_VARIABLE _bwc_cxx_v)
string(REGEX MATCHALL "\n [^\n]*/c\\+\\+/[^\n]*" _bwc_cxx_dirs "${_bwc_cxx_v}")
set(_bwc_cxx_isystem "")
foreach(_d ${_bwc_cxx_dirs})
  string(STRIP "${_d}" _d)
  get_filename_component(_d "${_d}" ABSOLUTE)
  string(APPEND _bwc_cxx_isystem " -isystem ${_d}")
endforeach()
if(NOT _bwc_cxx_isystem OR NOT IS_DIRECTORY "${_bwc_gcc_include}")
  message(FATAL_ERROR "cannot find the C++ headers of ${BWC_CROSS_CXX} (is libstdc++-dev for "
    "${BWC_CROSS_TRIPLET} installed? apt-get install g++-${BWC_CROSS_TRIPLET})")
endif()
set(_bwc_libc_isystem
  "-isystem ${_bwc_gcc_include} -isystem ${BWC_SYSROOT}/usr/include/${BWC_CROSS_TRIPLET} -isystem ${BWC_SYSROOT}/usr/include")
# 32-bit targets: 64-bit file offsets always (statvfs of a large card fails with EOVERFLOW
# otherwise; no library ABI we use passes off_t). 64-bit time_t only where the sysroot's
# libraries were built for it (Debian 13's t64 transition: its packages are named *t64);
# Debian 12's armhf libraries take a 32-bit time_t, so there the firmware keeps it too
# and dates after 2038-01-19 do not work.
set(_bwc_abi "")
if(BWC_CROSS_PROCESSOR MATCHES "^arm")
  set(_bwc_abi "-D_FILE_OFFSET_BITS=64")
  file(GLOB _bwc_t64 "${BWC_SYSROOT}/usr/share/doc/*t64")
  if(_bwc_t64)
    string(APPEND _bwc_abi " -D_TIME_BITS=64")
  endif()
endif()
set(CMAKE_C_FLAGS_INIT "-nostdinc ${_bwc_libc_isystem} ${_bwc_abi}")
set(CMAKE_CXX_FLAGS_INIT "-nostdinc${_bwc_cxx_isystem} ${_bwc_libc_isystem} ${_bwc_abi}")

# The target's C runtime (crt1.o, libc.so) and libstdc++.so / libgcc from its GCC folder.
set(_bwc_libdir "${BWC_SYSROOT}/usr/lib/${BWC_CROSS_TRIPLET}")
file(GLOB _bwc_target_gcc "${BWC_SYSROOT}/usr/lib/gcc/${BWC_CROSS_TRIPLET}/*/libstdc++.so")
if(NOT _bwc_target_gcc)
  message(FATAL_ERROR "${BWC_SYSROOT} has no libstdc++.so for ${BWC_CROSS_TRIPLET}: make the "
    "sysroot again with scripts/sysroot (it installs the suite's libstdc++-dev)")
endif()
list(SORT _bwc_target_gcc COMPARE NATURAL ORDER DESCENDING)
list(GET _bwc_target_gcc 0 _bwc_target_gcc)
get_filename_component(_bwc_target_gcc "${_bwc_target_gcc}" DIRECTORY)
set(_bwc_link "-B${_bwc_libdir}/ -L${_bwc_libdir} -L${_bwc_target_gcc} -Wl,-rpath-link,${_bwc_libdir}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${_bwc_link}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "${_bwc_link}")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "${_bwc_link}")

# Libraries, headers and packages from the sysroot only; programs (protoc) from the host.
set(CMAKE_FIND_ROOT_PATH "${BWC_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config reads the target's .pc files and prefixes their paths with the sysroot.
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${BWC_SYSROOT}")
set(ENV{PKG_CONFIG_LIBDIR}
  "${BWC_SYSROOT}/usr/lib/${BWC_CROSS_TRIPLET}/pkgconfig:${BWC_SYSROOT}/usr/lib/pkgconfig:${BWC_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# The host's protoc generates the code; the target's libprotobuf must be the same version
# (FindProtobuf warns when they differ).
find_program(Protobuf_PROTOC_EXECUTABLE protoc NO_CMAKE_FIND_ROOT_PATH)

# The tests run under qemu-user, with the sysroot as the dynamic loader's root.
find_program(BWC_CROSS_EMULATOR NAMES ${BWC_CROSS_QEMU}-static ${BWC_CROSS_QEMU})
if(BWC_CROSS_EMULATOR)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${BWC_CROSS_EMULATOR};-L;${BWC_SYSROOT}")
else()
  message(WARNING "${BWC_CROSS_QEMU} was not found: the tests are built but cannot run "
    "(apt-get install qemu-user-static, or run scripts/cross)")
endif()
