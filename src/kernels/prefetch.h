// How far ahead the decode kernels prefetch repacked weight rows in software, chosen once per
// process from the CPU vendor.
//
// A repacked row is one address-ordered stream, and on Zen 4 the hardware prefetcher alone keeps
// it ahead of the kernel best: software prefetch there measured 10-15 GB/s against 17-20 without
// (Gemv bench, one thread). On Intel Xeon (Sapphire Rapids class, 2 cores under KVM) the same
// kernel without software prefetch reached 57-63 % of the read roofline; prefetching 2 KiB ahead
// of the chunk being read lifted synth tinyllama q4_0 decode from 15.7-15.9 to 20.6-22.1 tok/s
// (1 thread) and from 28.7-30.1 to 35.9-42.0 (2 threads); 1 KiB gave a little less, 4 KiB
// nothing (two interleaved rounds, medians of 3, quiet host). The hardware prefetcher stops at
// 4 KiB page boundaries and runs only ~20 lines ahead there; 2 KiB keeps ~32 lines in flight.
#pragma once

#include <cstdint>

namespace edgefit::kernels {

// Bytes ahead of the current chunk that the packed gemv prefetches (0: none). Intel: 2048; other
// vendors: 0. EDGEFIT_PREFETCH_BYTES=N overrides it (0 turns it off), for measuring other hosts.
int64_t packed_prefetch_bytes();

}  // namespace edgefit::kernels
