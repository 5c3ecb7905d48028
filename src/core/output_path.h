// Refusing an output path that is one of the command's own inputs. `edgefit imatrix M … -o M`
// would otherwise replace the model it just read (atomically, so the damage is complete), and
// `-o calib.txt` the calibration text. Every command that writes calls this before it starts.
#pragma once

#include <string>
#include <vector>

namespace edgefit {

// Throws Error naming `output` and the input when writing `output` would replace an input: the
// same file by device and inode where both exist (symlinks, hard links and ".." all lead to the
// same inode), else the same path once symlinks and ".." are resolved. An input that is a folder
// (a Hugging Face model) covers the folder itself and every file directly inside it. Empty
// strings among `inputs` (options not given) are skipped.
void check_output_not_input(const std::string& output, const std::vector<std::string>& inputs);

}  // namespace edgefit
