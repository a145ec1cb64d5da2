// SPDX-License-Identifier: MIT
// Finds added tokens (control and user-defined) in raw text: leftmost match, longest there.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "tokenizer/vocabulary.h"

namespace moefit {

class AddedTokenMatcher {
 public:
  struct Match {
    size_t start = 0;
    size_t length = 0;
    TokenId id = kNoToken;
  };

  explicit AddedTokenMatcher(const Vocabulary& vocabulary);

  // The leftmost added token in `text` at or after `from`, the longest one starting there.
  // User-defined tokens always match (they are ordinary text to the model, and the reference
  // tokenizer always matches them); control tokens only when `parse_special` is set.
  std::optional<Match> FindNext(std::string_view text, size_t from, bool parse_special) const;

 private:
  struct Node {
    uint32_t first_edge = 0;  // children: edges_[first_edge, first_edge + edge_count)
    uint32_t edge_count = 0;
    TokenId id = kNoToken;  // the token spelled by the path to this node
    bool control = false;
  };
  struct Edge {
    uint8_t byte = 0;
    uint32_t child = 0;
  };

  int64_t Child(uint32_t node, uint8_t byte) const;

  std::vector<Node> nodes_;  // nodes_[0] is the root
  std::vector<Edge> edges_;  // sorted by byte within each node
  bool starts_any_[256] = {};   // first bytes of any added token
  bool starts_user_[256] = {};  // first bytes of user-defined tokens
};

}  // namespace moefit
