# SPDX-License-Identifier: MIT
# Warning flags for every moefit target; -Werror when MOEFIT_WERROR is on (CI).
add_library(moefit_warnings INTERFACE)
target_compile_options(moefit_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wshadow=local -Wnon-virtual-dtor -Wno-missing-field-initializers>)
if(MOEFIT_WERROR)
  target_compile_options(moefit_warnings INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
endif()
if(MOEFIT_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_compile_definitions(MOEFIT_SANITIZE_BUILD)
  add_link_options(-fsanitize=address,undefined)
endif()
