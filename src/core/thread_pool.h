// A persistent pool of worker threads for data-parallel loops. The calling thread takes part,
// so a pool of n threads starts n-1 workers. Workers sleep between jobs; a job is split into
// contiguous chunks handed out through an atomic counter, so uneven work balances itself.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace edgefit {

class ThreadPool {
 public:
  // n_threads <= 0 means all hardware threads.
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(begin, end) over [0, n) split into chunks of at least `grain` items, in parallel,
  // and returns when all are done. Not reentrant: fn must not call parallel_for on this pool.
  // The first exception thrown by fn is rethrown here after all chunks finish.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  // The process-wide pool (all cores, or EDGEFIT_THREADS if set).
  static ThreadPool& global();
  // Replace the process-wide pool's size (called once by the CLI's --threads option).
  static void set_global_threads(int n_threads);

 private:
  void worker_loop();
  void run_chunks();

  int n_threads_;                                     // workers + the caller
  std::vector<std::thread> workers_;                  // n_threads_-1 sleeping threads
  std::mutex mu_;                                     // guards the job fields below
  std::condition_variable wake_;                      // signals a new job or shutdown
  std::condition_variable done_cv_;                   // signals the last chunk finished
  uint64_t generation_ = 0;                           // bumped per job so workers see new work
  bool stop_ = false;                                 // shutting down
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;  // current job
  int64_t n_ = 0, chunk_ = 1;                         // current job's range and chunk size
  std::atomic<int64_t> next_{0};                      // next chunk start
  int active_ = 0;                                    // threads still inside the job
  std::exception_ptr error_;                          // first exception from fn
};

}  // namespace edgefit
