// SPDX-License-Identifier: MIT
// Tokenizer: text -> token ids -> text for byte-level BPE vocabularies, matching the Hugging
// Face tokenizer of the model (added tokens, normalisation, pre-tokenizer, BPE, byte decoding).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/vocabulary.h"

namespace moefit {

struct EncodeOptions {
  // Recognise the text of control tokens ("<|im_start|>") as those tokens. Set for rendered
  // chat templates, not for user content. User-defined tokens ("<think>") always match.
  bool parse_special = false;
  // Add BOS / EOS as the vocabulary asks (tokenizer.ggml.add_bos_token / add_eos_token).
  bool add_special = false;
};

struct DecodeOptions {
  bool skip_special = false;  // leave out control and unused tokens
};

class Tokenizer {
 public:
  // Throws moefit::Error when the vocabulary's pre-tokenizer is not supported.
  explicit Tokenizer(Vocabulary vocabulary);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // Text (UTF-8; ill-formed bytes are read as U+FFFD) -> ids. Thread-safe.
  std::vector<TokenId> Encode(std::string_view text, const EncodeOptions& options = {}) const;
  // The same, appending to `ids`.
  void Encode(std::string_view text, const EncodeOptions& options, std::vector<TokenId>& ids) const;

  // Ids -> well-formed UTF-8: each token's bytes, concatenated, with ill-formed sequences as
  // U+FFFD. Throws moefit::Error for an id outside the vocabulary.
  std::string Decode(std::span<const TokenId> ids, const DecodeOptions& options = {}) const;

  // The text Encode actually tokenizes (ill-formed bytes repaired, NFC where the model uses
  // it): Decode(Encode(text)) == Normalize(text).
  std::string Normalize(std::string_view text) const;

  // Drops the word caches of idle encoders (to free memory, or to measure a cold start).
  void ClearCaches() const;

  const Vocabulary& vocabulary() const { return vocabulary_; }

 private:
  struct Scratch;
  class ScratchPool;
  void EncodeSegment(std::string_view text, Scratch& scratch, std::vector<TokenId>& ids) const;
  void EncodePiece(std::string_view piece, Scratch& scratch, std::vector<TokenId>& ids) const;

  Vocabulary vocabulary_;
  PreTokenizer pre_tokenizer_;
  AddedTokenMatcher added_tokens_;
  // Working memory and word caches for Encode, one per concurrent call; at most 8 are kept
  // idle, each cache bounded (~3 MB), so memory stays bounded however many threads encode.
  std::unique_ptr<ScratchPool> scratch_pool_;
};

// Decodes ids one at a time for streaming: text is released only once it is complete UTF-8,
// so a character split across tokens is never shown broken. The concatenation of everything
// Push and Finish return equals Decode() of all the ids.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, const DecodeOptions& options = {});

  // Adds one id; returns the text that became complete (possibly empty).
  std::string Push(TokenId id);
  // Returns what is still held back (an unfinished sequence, as U+FFFD) and resets.
  std::string Finish();

 private:
  const Tokenizer* tokenizer_;
  DecodeOptions options_;
  std::string pending_;  // bytes of an unfinished UTF-8 sequence
};

}  // namespace moefit
