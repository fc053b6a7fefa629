# Included at the end of tests/CMakeLists.txt. In a -DCREDBROKER_SANITIZE=ON build every test of
# that directory runs with sanitizer options that write each report to a file named after the test
# (sanitizer-reports/<test>.<pid>). Handler processes get those options through the front
# server's environment, or, where a front passes only what its config lists, from defaults
# compiled into them (sanitizer-reports/no-test.<pid>). So a finding in a handler is caught
# although its stderr only reaches the front's log: the cleanup test sanitizer.no_reports, which
# ctest runs after every test that requires the fixture, fails and prints each report. A test
# process with a report already fails by its own exit status.
if(NOT CREDBROKER_SANITIZE)
  return()
endif()

set(reports ${CMAKE_BINARY_DIR}/sanitizer-reports)
set(supp ${CMAKE_CURRENT_LIST_DIR}/ubsan.supp)
file(MAKE_DIRECTORY ${reports})

# Defaults for processes whose environment the test does not control (a front may start handlers
# with only the variables its config names): every executable linking the library gets them, once
# (not an object library linking it too, such as credbroker_http_on_demand: its executables would
# get the definitions twice).
configure_file(${CMAKE_CURRENT_LIST_DIR}/default_options.cc.in
               ${CMAKE_BINARY_DIR}/sanitizer_default_options.cc @ONLY)
target_sources(credbroker INTERFACE
  $<$<NOT:$<STREQUAL:$<TARGET_PROPERTY:TYPE>,OBJECT_LIBRARY>>:${CMAKE_BINARY_DIR}/sanitizer_default_options.cc>)
get_property(sanitized_tests DIRECTORY PROPERTY TESTS)
foreach(t ${sanitized_tests})
  # Leak checking runs where a process exits by itself (test processes, CGI); handlers stopped by
  # the front's SIGTERM are not checked for leaks.
  set_property(TEST ${t} APPEND PROPERTY ENVIRONMENT
    "ASAN_OPTIONS=log_path=${reports}/${t}:detect_leaks=1:check_initialization_order=1:strict_init_order=1"
    "UBSAN_OPTIONS=log_path=${reports}/${t}:halt_on_error=1:print_stacktrace=1:suppressions=${supp}")
  set_property(TEST ${t} APPEND PROPERTY FIXTURES_REQUIRED sanitizer_reports)
endforeach()

add_test(NAME sanitizer.clear_reports
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/check-reports --clear ${reports})
add_test(NAME sanitizer.no_reports
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/check-reports ${reports})
set_tests_properties(sanitizer.clear_reports PROPERTIES FIXTURES_SETUP sanitizer_reports
                     LABELS sanitizer)
set_tests_properties(sanitizer.no_reports PROPERTIES FIXTURES_CLEANUP sanitizer_reports
                     LABELS sanitizer)
