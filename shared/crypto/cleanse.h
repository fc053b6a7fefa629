#pragma once
// Clearing secrets once they are used: the one place the handlers overwrite a copy of a token, a
// form body or a key before its memory goes back to the allocator, where a later heap read or a
// core dump could find it.

#include <string>

namespace credbroker::crypto {

/**
 * Overwrites every byte of `s` with OPENSSL_cleanse (which the optimiser may not drop) and empties
 * it. The buffer stays allocated, now zero, until the string is destroyed.
 */
void cleanse(std::string& s) noexcept;

/**
 * Removes `name` from the process environment after overwriting its value in place. unsetenv()
 * alone only drops the pointer from `environ`: the bytes stay in the block the kernel set up at
 * exec, which /proc/<pid>/environ shows to anyone who may read it (and a core dump holds).
 */
void scrub_env(const char* name) noexcept;

}  // namespace credbroker::crypto
