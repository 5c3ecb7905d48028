// Resume keys: FNV-1a against its published test values, the content hash against the same
// hash of the bytes, and file identities that change with the file.
#include "core/content_key.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test_data.h"

namespace edgefit {
namespace {

TEST(ContentKey, Fnv1aMatchesPublishedValues) {
  // FNV-1a 64-bit test vectors (Fowler/Noll/Vo reference code, test_fnv.c).
  EXPECT_EQ(hash_key(""), "cbf29ce484222325");
  EXPECT_EQ(hash_key("a"), "af63dc4c8601ec8c");
  EXPECT_EQ(hash_key("foobar"), "85944171f73967e8");
  EXPECT_EQ(hash_hex(fnv1a("bar", fnv1a("foo"))), hash_key("foobar"));  // continues
}

TEST(ContentKey, FileHashAndIdentityFollowTheBytes) {
  const std::string dir = test::scratch_dir("content-key");
  const std::string path = dir + "/f.bin";
  std::ofstream(path, std::ios::binary) << "foobar";
  EXPECT_EQ(file_content_hash(path), hash_key("foobar"));
  const std::string id = file_identity(path);
  EXPECT_NE(id.find("|6|"), std::string::npos) << id;
  std::filesystem::resize_file(path, 3);
  EXPECT_EQ(file_content_hash(path), hash_key("foo"));
  EXPECT_NE(file_identity(path), id);
  EXPECT_EQ(file_identity(dir), file_identity(path));  // a folder: its files' identities
  EXPECT_EQ(file_content_hash(dir + "/missing"), "");
}

}  // namespace
}  // namespace edgefit
