// SPDX-License-Identifier: MIT
// Vocabulary: the tokens, token types, merges and special ids of a byte-level BPE tokenizer,
// checked once at build time and turned into the lookup tables encoding and decoding need.
#pragma once

#include <cstdint>
#include <string>
#include <algorithm>
#include <bit>
#include <functional>
#include <string_view>
#include <vector>

namespace moefit {

using TokenId = int32_t;
inline constexpr TokenId kNoToken = -1;

// Token types as GGUF numbers them (tokenizer.ggml.token_type).
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,      // special tokens: <|im_start|>, <|eot_id|>; hidden by skip_special
  kUserDefined = 4,  // added tokens that are plain text to the model: <think>, <tool_call>
  kUnused = 5,       // padding slots of the embedding table
  kByte = 6,         // <0xAB> byte tokens (SentencePiece vocabularies)
};

// The vocabulary as plain data, the way GGUF metadata (or a test) states it.
struct VocabularyData {
  std::string model = "gpt2";          // tokenizer.ggml.model: only byte-level BPE for now
  std::string pre_tokenizer;           // tokenizer.ggml.pre: "qwen2", "llama-bpe", ...
  std::vector<std::string> tokens;     // id -> text; normal tokens in the byte-level alphabet
  std::vector<TokenType> token_types;  // id -> type; empty means every token is normal
  std::vector<std::string> merges;     // "left right", in priority order (rank = index)
  TokenId bos_id = kNoToken;
  TokenId eos_id = kNoToken;
  TokenId pad_id = kNoToken;
  TokenId unknown_id = kNoToken;
  bool add_bos = false;
  bool add_eos = false;
};

// (left, right) -> (rank, merged): open addressing over 64-bit keys, for the BPE inner loop.
class MergeTable {
 public:
  struct Entry {
    uint64_t key = kEmptyKey;
    int32_t rank = 0;
    TokenId merged = kNoToken;
  };

  void Reserve(size_t merges);
  // Sets the merge for (left, right); a later rule for the same pair replaces the earlier one,
  // as in the reference implementation.
  void Insert(TokenId left, TokenId right, int32_t rank, TokenId merged);
  // The rule for (left, right), or nullptr.
  const Entry* Find(TokenId left, TokenId right) const {
    if (slots_.empty()) return nullptr;
    const uint64_t key = Key(left, right);
    for (size_t slot = Hash(key) & mask_;; slot = (slot + 1) & mask_) {
      const Entry& entry = slots_[slot];
      if (entry.key == key) return &entry;
      if (entry.key == kEmptyKey) return nullptr;
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmptyKey = ~uint64_t{0};
  static uint64_t Key(TokenId left, TokenId right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  static size_t Hash(uint64_t key) {
    return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 29);
  }

  std::vector<Entry> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// Open-addressing index from a string (a token's text, or its bytes) to the token's id. The
// strings live elsewhere: `key_of(id)` returns the string of id, so the index holds 8 bytes a
// slot and stays valid when its owner moves.
class TokenIndex {
 public:
  void Reserve(size_t count) {
    slots_.assign(std::max<size_t>(16, std::bit_ceil(count * 2)), Slot{});
    mask_ = slots_.size() - 1;
  }
  // Adds `id` under `key` unless the key is already there (the first id wins).
  template <typename KeyOf>
  void Insert(std::string_view key, TokenId id, const KeyOf& key_of) {
    const size_t hash = std::hash<std::string_view>{}(key);
    for (size_t slot = hash & mask_;; slot = (slot + 1) & mask_) {
      Slot& entry = slots_[slot];
      if (entry.id == kNoToken) {
        entry = Slot{static_cast<uint32_t>(hash), id};
        return;
      }
      if (entry.hash == static_cast<uint32_t>(hash) && key_of(entry.id) == key) return;
    }
  }
  template <typename KeyOf>
  TokenId Find(std::string_view key, const KeyOf& key_of) const {
    if (slots_.empty()) return kNoToken;
    const size_t hash = std::hash<std::string_view>{}(key);
    for (size_t slot = hash & mask_;; slot = (slot + 1) & mask_) {
      const Slot& entry = slots_[slot];
      if (entry.id == kNoToken) return kNoToken;
      if (entry.hash == static_cast<uint32_t>(hash) && key_of(entry.id) == key) return entry.id;
    }
  }

 private:
  struct Slot {
    uint32_t hash = 0;  // low bits of the key's hash: most mismatches skip the compare
    TokenId id = kNoToken;
  };
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

class Vocabulary {
 public:
  // Validates `data` and builds the tables. Throws moefit::Error naming the token, merge or id
  // at fault: an unsupported model, an unknown pre-tokenizer, ids out of range, merges naming
  // unknown tokens, a byte with no token.
  static Vocabulary Build(const VocabularyData& data);

  int32_t size() const { return static_cast<int32_t>(types_.size()); }
  bool Contains(TokenId id) const { return id >= 0 && id < size(); }
  // The token as the vocabulary spells it ("Ġhello", "<|im_end|>").
  std::string_view TokenText(TokenId id) const { return Slice(text_pool_, text_offsets_, id); }
  // The bytes the token stands for (" hello", "<|im_end|>").
  std::string_view TokenBytes(TokenId id) const { return Slice(bytes_pool_, bytes_offsets_, id); }
  TokenType Type(TokenId id) const { return types_[static_cast<size_t>(id)]; }
  // Control and unused tokens: what skip_special hides.
  bool IsSpecial(TokenId id) const {
    const TokenType type = Type(id);
    return type == TokenType::kControl || type == TokenType::kUnused;
  }
  // The id of the token spelled `text`, or kNoToken.
  TokenId Find(std::string_view text) const;
  // The normal token whose bytes are exactly `bytes`, or kNoToken.
  TokenId FindNormalByBytes(std::string_view bytes) const;
  // The single-byte token for `byte` (every byte has one).
  TokenId ByteToken(uint8_t byte) const { return byte_tokens_[byte]; }
  const MergeTable& merges() const { return merges_; }
  // Control and user-defined tokens, in id order: matched in text before splitting.
  const std::vector<TokenId>& added_tokens() const { return added_tokens_; }

  const std::string& model() const { return model_; }
  const std::string& pre_tokenizer() const { return pre_tokenizer_; }
  TokenId bos_id() const { return bos_id_; }
  TokenId eos_id() const { return eos_id_; }
  TokenId pad_id() const { return pad_id_; }
  TokenId unknown_id() const { return unknown_id_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }

 private:
  Vocabulary() = default;
  static std::string_view Slice(const std::vector<char>& pool, const std::vector<uint32_t>& offsets,
                                TokenId id) {
    const auto index = static_cast<size_t>(id);
    return std::string_view(pool.data() + offsets[index], offsets[index + 1] - offsets[index]);
  }
  void BuildTokens(const VocabularyData& data);
  void BuildMerges(const VocabularyData& data);
  void BuildSpecialIds(const VocabularyData& data);

  std::string model_;
  std::string pre_tokenizer_;
  std::vector<TokenType> types_;
  // Pools are vectors, not strings, so that moving a Vocabulary never moves the characters the
  // maps below point into (a short std::string would move them).
  std::vector<char> text_pool_;         // all token texts, back to back
  std::vector<uint32_t> text_offsets_;  // size() + 1 offsets into text_pool_
  std::vector<char> bytes_pool_;        // all token bytes, back to back
  std::vector<uint32_t> bytes_offsets_;
  TokenIndex by_text_;          // every token, by TokenText
  TokenIndex normal_by_bytes_;  // normal tokens, by TokenBytes
  TokenId byte_tokens_[256] = {};
  MergeTable merges_;
  std::vector<TokenId> added_tokens_;
  TokenId bos_id_ = kNoToken;
  TokenId eos_id_ = kNoToken;
  TokenId pad_id_ = kNoToken;
  TokenId unknown_id_ = kNoToken;
  bool add_bos_ = false;
  bool add_eos_ = false;
};

}  // namespace moefit
