#!/bin/sh
# SPDX-License-Identifier: MIT
# Fails if an ISA variant object file (compiled with -mavx2 / -mavx512*) defines a global symbol
# other than a kernel in namespace moefit::avx2 / moefit::avx512 (a weak copy of shared inline
# code would let the linker run AVX code on any CPU), or has a start-up initialiser.
status=0
for object in "$@"; do
  bad=$(nm -C --defined-only "$object" | awk '
    { type = $2; name = $0; sub(/^[0-9a-fA-F]* *[A-Za-z] /, "", name) }
    type ~ /^[a-z]$/ && type != "u" && type != "v" && type != "w" { next }   # local symbols
    type == "T" && name ~ /^moefit::(avx2|avx512)::[A-Za-z0-9_]+\(/ { next } # the kernels
    { print "  " type " " name }')
  if [ -n "$bad" ]; then
    echo "$object: symbols other than kernels:"
    echo "$bad"
    status=1
  fi
  if objdump -h "$object" | grep -q -e '\.init_array' -e '\.ctors'; then
    echo "$object: has start-up initialisers (namespace-scope SIMD constants?)"
    status=1
  fi
done
[ $status -eq 0 ] && echo "checked $# ISA object files: only kernels exported"
exit $status
