# Compiler flags shared by every target.
add_compile_options(-Wall -Wextra -Werror -Wno-unused-parameter)
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  add_compile_options(-Wthread-safety)
endif()
if(WAGGLE_SANITIZE)
  # pointer-overflow is off: Debian's RapidJSON 1.1 offsets a null stack pointer on its first
  # push (harmless, fixed upstream after 1.1), which would fail every JSON write.
  add_compile_options(-fsanitize=address,undefined -fno-sanitize=pointer-overflow
                      -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
if(WAGGLE_FUZZ)
  # Coverage instrumentation for every library the fuzzers link; the fuzzer
  # executables add -fsanitize=fuzzer themselves.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
