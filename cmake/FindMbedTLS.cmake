# Finds mbedTLS (2.28 or 3.x). Debian 12 ships no pkg-config or CMake package file for
# it, so look for the headers and the three libraries, and read the version from the
# header. Defines MbedTLS::mbedcrypto, MbedTLS::mbedx509, MbedTLS::mbedtls and
# MbedTLS_VERSION.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PC_MBEDTLS QUIET mbedtls)
endif()

find_path(MbedTLS_INCLUDE_DIR mbedtls/ssl.h HINTS ${PC_MBEDTLS_INCLUDE_DIRS})
find_library(MbedTLS_CRYPTO_LIBRARY NAMES mbedcrypto HINTS ${PC_MBEDTLS_LIBRARY_DIRS})
find_library(MbedTLS_X509_LIBRARY NAMES mbedx509 HINTS ${PC_MBEDTLS_LIBRARY_DIRS})
find_library(MbedTLS_TLS_LIBRARY NAMES mbedtls HINTS ${PC_MBEDTLS_LIBRARY_DIRS})

if(MbedTLS_INCLUDE_DIR)
  # 3.x keeps the version in build_info.h, 2.x in version.h.
  foreach(hdr build_info.h version.h)
    if(NOT MbedTLS_VERSION AND EXISTS "${MbedTLS_INCLUDE_DIR}/mbedtls/${hdr}")
      file(STRINGS "${MbedTLS_INCLUDE_DIR}/mbedtls/${hdr}" _ver_line
           REGEX "^#define[ \t]+MBEDTLS_VERSION_STRING[ \t]+\"[0-9.]+\"")
      if(_ver_line)
        string(REGEX REPLACE ".*\"([0-9.]+)\".*" "\\1" MbedTLS_VERSION "${_ver_line}")
      endif()
    endif()
  endforeach()
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(MbedTLS
  REQUIRED_VARS MbedTLS_INCLUDE_DIR MbedTLS_CRYPTO_LIBRARY MbedTLS_X509_LIBRARY MbedTLS_TLS_LIBRARY
  VERSION_VAR MbedTLS_VERSION)

if(MbedTLS_FOUND AND NOT TARGET MbedTLS::mbedcrypto)
  add_library(MbedTLS::mbedcrypto UNKNOWN IMPORTED)
  set_target_properties(MbedTLS::mbedcrypto PROPERTIES
    IMPORTED_LOCATION "${MbedTLS_CRYPTO_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${MbedTLS_INCLUDE_DIR}")
  add_library(MbedTLS::mbedx509 UNKNOWN IMPORTED)
  set_target_properties(MbedTLS::mbedx509 PROPERTIES
    IMPORTED_LOCATION "${MbedTLS_X509_LIBRARY}"
    INTERFACE_LINK_LIBRARIES MbedTLS::mbedcrypto)
  add_library(MbedTLS::mbedtls UNKNOWN IMPORTED)
  set_target_properties(MbedTLS::mbedtls PROPERTIES
    IMPORTED_LOCATION "${MbedTLS_TLS_LIBRARY}"
    INTERFACE_LINK_LIBRARIES MbedTLS::mbedx509)
endif()
mark_as_advanced(MbedTLS_INCLUDE_DIR MbedTLS_CRYPTO_LIBRARY MbedTLS_X509_LIBRARY MbedTLS_TLS_LIBRARY)
