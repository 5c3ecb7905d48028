// Importance matrices ("imatrix"): for each weight matrix, the mean over calibration tokens of
// the squared input activation of every input channel. A quantizer weights each column's
// rounding error by it, so the channels that carry large activations are kept most precisely.
//
// Two file formats, both read by read_imatrix (chosen by content):
//  * llama.cpp's legacy `.dat` (llama-imatrix up to 2025; what b4748 writes):
//      i32 n_entries; n_entries × { i32 name_len; name bytes; i32 ncall; i32 nval; f32 v[nval] };
//      optional trailer: i32 last_call (chunks processed); i32 len; dataset name bytes.
//    v is mean(x²) × ncall (llama-imatrix stores per-call sums rescaled to ncall calls), and
//    llama-quantize divides by ncall again; so mean(x²) = v / ncall. The file does not record
//    how many tokens a call covered.
//  * GGUF, as newer llama-imatrix writes it (and edgefit writes):
//      general.type = "imatrix"; imatrix.datasets: [string]; imatrix.chunk_count: u32;
//      imatrix.chunk_size: u32 (tokens per chunk);
//      per weight, in name order: "<name>.in_sum2" F32 ne = [n_per_row, n_mat] holding Σ x² over
//      tokens, and "<name>.counts" F32 ne = [1, n_mat] holding the token count per matrix
//      (n_mat > 1 only for stacked MoE experts; trailing extents of 1 are dropped as ggml does).
//    mean(x²) = in_sum2 / counts; a matrix that saw no tokens gets importance 1 everywhere, as
//    llama-quantize does.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace edgefit {

struct ImatrixEntry {
  std::vector<float> mean_sq;    // n_mat × n_per_row values: mean over tokens of x_j², per matrix
  std::vector<uint64_t> counts;  // per matrix: tokens seen (GGUF) or calls (legacy .dat)
};

struct Imatrix {
  std::map<std::string, ImatrixEntry>
      entries;                        // weight tensor name ("blk.0.attn_q.weight") → stats
  std::vector<std::string> datasets;  // calibration file names, as recorded
  uint64_t chunk_count = 0;           // calibration chunks processed
  uint64_t chunk_size = 0;            // tokens per chunk; 0 when unknown (legacy .dat)
  std::string format;                 // "dat" or "gguf": what it was read from

  // Calibration tokens: chunk_count × chunk_size when both are known, else the largest token
  // count of any entry in a GGUF file, else 0 (a legacy .dat does not say).
  uint64_t token_count() const;
  // The per-column importance for a tensor whose rows hold `row_len` values, or nullptr when the
  // imatrix has no entry for it. Throws Error when the entry's size is not row_len (× n_mat).
  const std::vector<float>* find(const std::string& tensor_name, uint64_t row_len) const;
};

// Reads either format (a GGUF by its magic, otherwise legacy .dat); throws Error with the file and
// byte offset on malformed content.
Imatrix read_imatrix(const std::string& path);
Imatrix read_imatrix_dat(const std::string& path);
Imatrix read_imatrix_gguf(const std::string& path);

// Writes the GGUF layout above (atomically). Entries with no counts are written with count 1.
void write_imatrix_gguf(const Imatrix& im, const std::string& path);
// Writes llama.cpp's legacy .dat (atomically), loadable by llama-quantize b4748: ncall is the
// chunk count (or 1), the trailer names the first dataset.
void write_imatrix_dat(const Imatrix& im, const std::string& path);

}  // namespace edgefit
