#include "core/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <system_error>

#include "core/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace edgefit {

namespace {

// Tells the core we are in a spin loop (saves power, frees the sibling hyper-thread).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Spins until pred() holds or `seconds` pass; returns pred()'s last value. The first few
// microseconds use the pause hint only; after that each round also yields the CPU, so when
// there are more runnable threads than cores (ctest -j, other processes) the thread we wait for
// gets the core instead of waiting a whole scheduler slice behind our spinning.
template <class Pred>
bool spin_until(Pred pred, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (int i = 0;; ++i) {
    if (pred()) return true;
    if (i < 256) {
      cpu_relax();
      continue;
    }
    std::this_thread::yield();
    if ((i & 15) == 15 && std::chrono::steady_clock::now() > deadline) return pred();
  }
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0)
    n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  n_threads_ = n_threads;
  try {
    for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this] { worker_loop(); });
  } catch (const std::system_error& e) {
    // Out of memory for thread stacks, or a process limit. The destructor does not run for a
    // half-built object, so stop and join the workers started so far here: leaving them waiting
    // on wake_ would block its destruction forever.
    const size_t started = workers_.size() + 1;
    stop_workers();
    throw Error("cannot start " + std::to_string(n_threads_) + " threads (started " +
                std::to_string(started) + "): " + e.code().message() +
                "; use fewer with -t/--threads or EDGEFIT_THREADS");
  }
}

void ThreadPool::stop_workers() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

ThreadPool::~ThreadPool() {
  stop_workers();
}

// Guided split: each chunk takes 1/(2·threads) of the items not yet handed out, at least
// min_chunk_, so a job starts with long contiguous runs (a decode matmul's rows stream in
// address order) and ends with short ones that even out the threads' finishing times. A fixed
// ~n/(4·threads) chunk left the faster thread spinning for most of the other's last chunk: in
// 2-thread decode (synth tinyllama q4_0, session 17, perf) the pool's waiting was 12-16 % of the
// kernels' time, guided 5-7 %. Decode and prefill speed stayed level within the host's noise
// (paired rounds, 2:4, 60 % sparse, q4_0, q4_k_m: medians 0.99-1.03×): memory-bound, a thread
// finishing alone gets the bandwidth the idle one leaves; what the split saves is spinning (power
// on a phone, the sibling's issue slots on SMT). A chunk's size depends only on where it starts,
// so the split is the same every run; only which thread takes which chunk varies.
int64_t ThreadPool::chunk_at(int64_t begin) const {
  const int64_t div = 2 * static_cast<int64_t>(n_threads_);
  return std::max(min_chunk_, (n_ - begin + div - 1) / div);
}

void ThreadPool::run_chunks() {
  for (;;) {
    int64_t begin = next_.load(), end = 0;
    do {
      if (begin >= n_) return;
      end = begin + chunk_at(begin);
    } while (!next_.compare_exchange_weak(begin, end));
    end = std::min(n_, end);
    try {
      (*fn_)(begin, end);
    } catch (...) {
      std::lock_guard lock(error_mu_);
      if (!error_) error_ = std::current_exception();
      next_ = n_;  // stop handing out work
    }
  }
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    const auto has_news = [&] { return stop_.load() || generation_.load() != seen; };
    if (!spin_until(has_news, kSpinSeconds)) {
      // Sleep. sleepers_ is raised before the predicate is re-checked under the lock, and the
      // caller bumps generation_ before reading sleepers_ (both sequentially consistent), so
      // either the caller sees a sleeper and notifies, or this thread sees the new generation.
      std::unique_lock lock(mu_);
      ++sleepers_;
      wake_.wait(lock, has_news);
      --sleepers_;
    }
    if (stop_) return;
    seen = generation_.load();
    run_chunks();
    active_.fetch_sub(1);
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  if (n_threads_ == 1 || n <= grain) {
    fn(0, n);
    return;
  }
  bool idle = false;
  if (!busy_.compare_exchange_strong(idle, true, std::memory_order_acquire)) {
    // Another thread's job (a second model), or a call from inside a job: run it here, whole.
    fn(0, n);
    return;
  }
  struct Release {
    std::atomic<bool>& busy;  // the flag taken above, released even when fn throws
    ~Release() { busy.store(false, std::memory_order_release); }
  } release{busy_};
  // The shortest chunks a job ends with: ~1/16 of a thread's share (run_chunks, guided split).
  run_job(n, std::max(grain, (n + 16 * n_threads_ - 1) / (16 * n_threads_)), fn);
}

void ThreadPool::run_job(int64_t n, int64_t min_chunk,
                         const std::function<void(int64_t, int64_t)>& fn) {
  // Job fields are written before generation_ is bumped; workers read them after seeing it.
  fn_ = &fn;
  n_ = n;
  min_chunk_ = min_chunk;
  next_ = 0;
  error_ = nullptr;
  active_ = n_threads_;  // workers + caller
  generation_.fetch_add(1);
  if (sleepers_.load() > 0) {
    std::lock_guard lock(mu_);
    wake_.notify_all();
  }
  run_chunks();
  active_.fetch_sub(1);
  // Every worker takes part in every job (possibly finding no chunk left), so when active_ is 0
  // nobody still reads this job's fields.
  if (!spin_until([&] { return active_.load() == 0; }, kSpinSeconds))
    while (active_.load() != 0) std::this_thread::yield();
  fn_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

namespace {
// The process-wide pool: owned by `owner`, read lock-free through `current` once it exists; the
// mutex makes the first creation (possibly from two threads at once) and replacement one at a time.
struct GlobalPool {
  std::mutex mu;                              // guards creation and replacement
  std::unique_ptr<ThreadPool> owner;          // the pool, destroyed at exit
  std::atomic<ThreadPool*> current{nullptr};  // owner.get(), for the lock-free fast path
};
GlobalPool& global_pool() {
  static GlobalPool g;
  return g;
}
}  // namespace

ThreadPool& ThreadPool::global() {
  GlobalPool& g = global_pool();
  if (ThreadPool* p = g.current.load(std::memory_order_acquire)) return *p;
  std::lock_guard lock(g.mu);
  if (!g.owner) {
    int n = 0;
    if (const char* env = std::getenv("EDGEFIT_THREADS")) n = std::atoi(env);
    g.owner = std::make_unique<ThreadPool>(n);
    g.current.store(g.owner.get(), std::memory_order_release);
  }
  return *g.owner;
}

void ThreadPool::set_global_threads(int n_threads) {
  GlobalPool& g = global_pool();
  std::lock_guard lock(g.mu);
  g.owner = std::make_unique<ThreadPool>(n_threads);
  g.current.store(g.owner.get(), std::memory_order_release);
}

}  // namespace edgefit
