// Keys for resumable work: what a result depends on, hashed. One implementation for the two
// resume mechanisms (compress/work_dir.h: a calibrated run's block state; pipeline/stage_cache.h:
// compress's stage records).
//  * hash_key: 64-bit FNV-1a of a description, as 16 hex digits (stable across builds and
//    machines; not for security);
//  * file_identity: path, size and modification time of a file (or of every regular file of a
//    folder): enough to notice a changed input without reading it;
//  * file_content_hash: FNV-1a of a file's bytes, for checking an output before it is reused.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace edgefit {

// FNV-1a over `bytes`, continuing from `h` (the offset basis by default). The two copies this
// replaces had the basis with its last digit missing (1469598103934665603); keys are internal,
// so the published constant costs only a one-time rerun of cached stages.
uint64_t fnv1a(std::string_view bytes, uint64_t h = 14695981039346656037ull);
// `h` as 16 lower-case hex digits.
std::string hash_hex(uint64_t h);
// hash_hex(fnv1a(description)).
std::string hash_key(std::string_view description);
// "path|size|mtime;" of a file, or of every regular file in a folder (sorted by path).
std::string file_identity(const std::string& path);
// hash_hex of FNV-1a over the file's bytes ("" when it cannot be read).
std::string file_content_hash(const std::string& path);

}  // namespace edgefit
