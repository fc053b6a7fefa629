# libfcgi before 2.4.5 has an integer overflow in ReadParams (CVE-2025-23016): a FastCGI client
# that can reach a handler's socket can overflow the heap with crafted parameter lengths. Debian
# bookworm fixed it in 2.4.2-2+deb12u1 (the upstream version number stays 2.4.2), so the version
# that tells is the package's, not pkg-config's. docs/security-testing.md has the details.
set(CREDBROKER_FCGI_MIN_DEBIAN_VERSION "2.4.2-2+deb12u1")
set(CREDBROKER_FCGI_MIN_UPSTREAM_VERSION "2.4.5")

find_program(DPKG_QUERY dpkg-query)
find_program(DPKG dpkg)
set(_fcgi_pkg_version "")
if(DPKG_QUERY AND DPKG)
  execute_process(COMMAND ${DPKG_QUERY} -W -f=\${Version} libfcgi-dev
                  OUTPUT_VARIABLE _fcgi_pkg_version ERROR_QUIET RESULT_VARIABLE _fcgi_query_rc)
  if(NOT _fcgi_query_rc EQUAL 0)
    set(_fcgi_pkg_version "")
  endif()
endif()

if(_fcgi_pkg_version)
  execute_process(COMMAND ${DPKG} --compare-versions ${_fcgi_pkg_version} ge
                          ${CREDBROKER_FCGI_MIN_DEBIAN_VERSION}
                  RESULT_VARIABLE _fcgi_fixed)
  if(NOT _fcgi_fixed EQUAL 0)
    message(FATAL_ERROR
      "libfcgi-dev ${_fcgi_pkg_version} is affected by CVE-2025-23016 (heap overflow in "
      "ReadParams); credbroker needs ${CREDBROKER_FCGI_MIN_DEBIAN_VERSION} or later. Upgrade with: "
      "apt-get update && apt-get install --only-upgrade libfcgi-dev libfcgi0ldbl")
  endif()
  message(STATUS "libfcgi-dev ${_fcgi_pkg_version}: carries the fix for CVE-2025-23016")
elseif(FCGI_VERSION VERSION_LESS CREDBROKER_FCGI_MIN_UPSTREAM_VERSION)
  # Not a Debian package: only the upstream version can tell, and a distribution may have
  # backported the fix without raising it.
  message(WARNING
    "fcgi ${FCGI_VERSION} (pkg-config) is older than ${CREDBROKER_FCGI_MIN_UPSTREAM_VERSION}, "
    "which fixed CVE-2025-23016; make sure your build carries the fix.")
endif()
