# One INTERFACE target carries the project's warning and sanitizer settings;
# every target of ours links it (ccache's style).
add_library(smlaunch_settings INTERFACE)
target_compile_options(smlaunch_settings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual -Wnull-dereference
  $<$<CONFIG:Debug>:-D_GLIBCXX_ASSERTIONS>)
if(SMLAUNCH_WERROR)
  target_compile_options(smlaunch_settings INTERFACE -Werror)
endif()
if(SMLAUNCH_SANITIZE)
  target_compile_options(smlaunch_settings INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(smlaunch_settings INTERFACE -fsanitize=address,undefined)
endif()
