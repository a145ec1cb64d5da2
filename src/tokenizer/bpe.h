// SPDX-License-Identifier: MIT
// Byte-level BPE on one pre-tokenized piece: merges by rank, leftmost first. Long pieces use a
// heap over a linked list of symbols (O(n log n)); short ones a bounded linear scan.
#pragma once

#include <string_view>
#include <vector>

#include "tokenizer/vocabulary.h"

namespace moefit {

// Working memory reused between pieces.
struct BpeScratch {
  struct Symbol {
    TokenId id = kNoToken;  // kNoToken once merged into its left neighbour
    int32_t prev = -1;
    int32_t next = -1;
  };
  struct Candidate {
    int32_t rank = 0;
    int32_t left = 0;  // index of the left symbol
    TokenId left_id = kNoToken;
    TokenId right_id = kNoToken;
    TokenId merged = kNoToken;
  };
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
};

// Bytes of one piece -> token ids, appended to `out`: starting from one token per byte, merge
// the adjacent pair with the lowest rank (leftmost among equals) until no rule applies.
void BpeEncodePiece(const Vocabulary& vocabulary, std::string_view bytes, BpeScratch& scratch,
                    std::vector<TokenId>& out);

}  // namespace moefit
