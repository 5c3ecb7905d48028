// Finds the tokenizer that belongs to a model path, the way users expect: a GGUF carries its own
// vocabulary; a Hugging Face folder (or a .safetensors file inside one) has tokenizer.json; a
// llama2.c checkpoint has tok512.bin / tokenizer.bin beside it. An explicit path overrides all.
#pragma once

#include <memory>
#include <string>

#include "tokenizer/tokenizer.h"

namespace edgefit {

// Path of the tokenizer file/folder for `model_path`, or `override_path` when non-empty.
// Throws Error when none can be found.
std::string tokenizer_path_for_model(const std::string& model_path,
                                     const std::string& override_path);

// load_tokenizer(tokenizer_path_for_model(…)), checked to fit a vocabulary of `model_vocab` ids
// (a tokenizer with more ids than the model's embedding would produce out-of-range tokens).
std::unique_ptr<Tokenizer> load_model_tokenizer(const std::string& model_path,
                                                const std::string& override_path, int model_vocab);

}  // namespace edgefit
