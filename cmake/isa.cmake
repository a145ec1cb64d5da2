# SPDX-License-Identifier: MIT
# Per-file ISA flags: shared code is built for baseline x86-64; ISA variants get their flags here.
set(MOEFIT_AVX2_FLAGS -mavx2 -mfma -mf16c)
set(MOEFIT_AVX512_FLAGS -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512bf16)

# moefit_isa_sources(ISA file...): compile the given files with that ISA's flags.
function(moefit_isa_sources isa)
  if(isa STREQUAL "avx2")
    set(flags ${MOEFIT_AVX2_FLAGS})
  elseif(isa STREQUAL "avx512")
    set(flags ${MOEFIT_AVX512_FLAGS})
  else()
    message(FATAL_ERROR "unknown ISA ${isa}")
  endif()
  set_source_files_properties(${ARGN} PROPERTIES COMPILE_OPTIONS "${flags}")
endfunction()
