# Two INTERFACE targets carry the project's settings; every target of ours
# links one (ccache's style):
#   smlaunch_warnings  the warnings (and -Werror in CI builds)
#   smlaunch_settings  the warnings plus, with SMLAUNCH_SANITIZE, ASan+UBSan,
#                      or with SMLAUNCH_TSAN, ThreadSanitizer
# Programs that stand in for a user's job (tests/programs) take only the
# warnings: a user's ranks are not sanitized, and an ASan program refuses to
# run behind the unsanitized hostname shim that mpirun preloads.
add_library(smlaunch_warnings INTERFACE)
target_compile_options(smlaunch_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual -Wnull-dereference
  $<$<CONFIG:Debug>:-D_GLIBCXX_ASSERTIONS>)
if(SMLAUNCH_WERROR)
  target_compile_options(smlaunch_warnings INTERFACE -Werror)
endif()

add_library(smlaunch_settings INTERFACE)
target_link_libraries(smlaunch_settings INTERFACE smlaunch_warnings)
if(SMLAUNCH_SANITIZE)
  target_compile_options(smlaunch_settings INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(smlaunch_settings INTERFACE -fsanitize=address,undefined)
endif()
if(SMLAUNCH_TSAN)
  target_compile_options(smlaunch_settings INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
  target_link_options(smlaunch_settings INTERFACE -fsanitize=thread)
endif()
