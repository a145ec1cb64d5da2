// SPDX-License-Identifier: MIT
// Pre-tokenizers: the regular expressions that cut text into pieces before BPE, one entry per
// `tokenizer.ggml.pre` name, run with PCRE2 (JIT, UTF + UCP).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace moefit {

struct PreTokenizerConfig {
  std::string_view name;                   // tokenizer.ggml.pre
  std::span<const char* const> patterns;  // applied in turn; each splits the previous pieces
  bool nfc = false;                        // NFC-normalise the text first (Qwen)
  bool ignore_merges = false;              // a piece that is a whole token skips BPE (Llama 3)
};

// The config for a `tokenizer.ggml.pre` name, or nullptr when it is not supported.
const PreTokenizerConfig* FindPreTokenizerConfig(std::string_view name);
// The supported names, comma separated, for error messages.
std::string PreTokenizerNames();

class PreTokenizer {
 public:
  // Working memory for Split (PCRE2 match data and JIT stack); one per thread at a time.
  class Scratch {
   public:
    Scratch();
    ~Scratch();
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;

   private:
    friend class PreTokenizer;
    struct State;
    std::unique_ptr<State> state_;
  };

  // Compiles the patterns of `config`. Throws moefit::Error if PCRE2 rejects one.
  explicit PreTokenizer(const PreTokenizerConfig& config);
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;

  // Cuts well-formed UTF-8 `text` into pieces that cover it in order, appended to `pieces` as
  // views into `text`. Every pattern keeps both its matches and the text between them.
  void Split(std::string_view text, Scratch& scratch, std::vector<std::string_view>& pieces) const;

  const PreTokenizerConfig& config() const { return *config_; }

 private:
  struct Pattern;
  const PreTokenizerConfig* config_;
  std::vector<std::unique_ptr<Pattern>> patterns_;
};

}  // namespace moefit
