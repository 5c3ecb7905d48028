// A persistent pool of worker threads for data-parallel loops. The calling thread takes part,
// so a pool of n threads starts n-1 workers. A job is split into contiguous chunks handed out
// through an atomic counter, so uneven work balances itself; chunks shrink towards the job's end
// (a guided split, run_chunks), so the threads finish together.
//
// Why workers spin before they sleep. Decoding one token runs ~180 short parallel loops (7 matrix
// products and attention per layer) of ~100 µs each; waking a thread blocked on a futex costs tens
// of microseconds, which alone would eat a quarter of the token time. So a worker that finishes a
// job busy-waits (with a CPU pause hint) for up to kSpinSeconds for the next one and only then
// blocks on the condition variable; the caller likewise spins on the completion counter.
//
// Why a busy pool runs a second caller's loop inline. The pool is shared (global()): two model
// instances used on two threads at once, or a loop body that itself calls parallel_for, would
// otherwise overwrite the one job in flight. The first caller takes the pool with one atomic
// exchange (tens of nanoseconds against ~100 µs loops, so a lone model keeps its full speed);
// any caller that finds it taken runs its whole range on its own thread instead of waiting,
// which can neither deadlock (a nested call) nor race. Results do not depend on the split, so
// both callers get the same numbers as alone. A server that wants both models at full width
// gives each its own pool.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace edgefit {

class ThreadPool {
 public:
  // n_threads <= 0 means all hardware threads. Throws Error when the threads cannot be started
  // (memory limit, process limit), after joining the ones that did start.
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(begin, end) over [0, n) split into chunks of at least `grain` items, in parallel,
  // and returns when all are done. Safe to call from several threads at once and from inside fn:
  // a call that finds the pool running another job runs fn(0, n) on the calling thread.
  // The first exception thrown by fn is rethrown here after all chunks finish.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  // The process-wide pool (all cores, or EDGEFIT_THREADS if set); created on first use, also
  // when that first use comes from several threads at once.
  static ThreadPool& global();
  // Replace the process-wide pool's size (called once by the CLI's --threads option, before any
  // work: a pool in use must not be replaced).
  static void set_global_threads(int n_threads);

  // How long an idle worker busy-waits for the next job before it blocks.
  static constexpr double kSpinSeconds = 0.002;

 private:
  void worker_loop();
  void stop_workers();  // wakes every worker with stop_ set and joins it
  void run_chunks();
  int64_t chunk_at(int64_t begin) const;  // the size of the chunk that starts at begin
  void run_job(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& fn);

  int n_threads_;                        // workers + the caller
  std::vector<std::thread> workers_;     // n_threads_-1 worker threads
  std::mutex mu_;                        // pairs with wake_ for workers that stopped spinning
  std::condition_variable wake_;         // signals a new job or shutdown to sleeping workers
  std::atomic<uint64_t> generation_{0};  // bumped per job (after the job fields are written)
  std::atomic<int> sleepers_{0};         // workers blocked (or about to block) on wake_
  std::atomic<bool> stop_{false};        // shutting down
  std::atomic<bool> busy_{false};        // one caller owns the job fields below (run_job)
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;  // current job
  int64_t n_ = 0, min_chunk_ = 1;  // current job's range and its shortest chunk (but the last)
  std::atomic<int64_t> next_{0};   // next chunk start
  std::atomic<int> active_{0};     // threads still inside the job
  std::mutex error_mu_;            // guards error_
  std::exception_ptr error_;       // first exception from fn
};

}  // namespace edgefit
