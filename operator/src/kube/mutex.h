// Mutexes and locks that Clang's thread-safety analysis understands, and the
// attribute macros that state locking rules in declarations:
//
//   kube::Mutex mu_;
//   int count_ GUARDED_BY(mu_);
//   void bump_locked() REQUIRES(mu_);
//   void bump() EXCLUDES(mu_) { kube::MutexLock lock(mu_); bump_locked(); }
//
// The clang build with -Wthread-safety (make build-tsa, part of make test)
// turns a broken rule into a compile error; under GCC the macros are empty
// and the types are thin shells over std::mutex and std::shared_mutex, whose
// libstdc++ declarations carry no annotations (hence these types). In kube/,
// the lowest layer, so that every layer can use them.
#pragma once

#include <mutex>
#include <shared_mutex>

#if defined(__clang__)
#define SRERACHA_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define SRERACHA_THREAD_ANNOTATION(x)
#endif

// On a type: it is a capability (a lock) named `x` in diagnostics.
#define CAPABILITY(x) SRERACHA_THREAD_ANNOTATION(capability(x))
// On an RAII type: it holds the capabilities its constructor acquires.
#define SCOPED_CAPABILITY SRERACHA_THREAD_ANNOTATION(scoped_lockable)
// On a member: reading or writing it needs `x` held (reading: held shared).
#define GUARDED_BY(x) SRERACHA_THREAD_ANNOTATION(guarded_by(x))
// On a pointer member: what it points to needs `x` held.
#define PT_GUARDED_BY(x) SRERACHA_THREAD_ANNOTATION(pt_guarded_by(x))
// On a mutex member: the order in which mutexes are taken (checked only with
// -Wthread-safety-beta, which the make test build does not use).
#define ACQUIRED_BEFORE(...) SRERACHA_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) SRERACHA_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
// On a function: callers must hold these (exclusively, or at least shared).
#define REQUIRES(...) SRERACHA_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) SRERACHA_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
// On a function: callers must not hold these (it takes them itself).
#define EXCLUDES(...) SRERACHA_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
// On a function: it takes or releases these (none named: `this`).
#define ACQUIRE(...) SRERACHA_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) SRERACHA_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) SRERACHA_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) SRERACHA_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) SRERACHA_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define TRY_ACQUIRE_SHARED(...) \
  SRERACHA_THREAD_ANNOTATION(try_acquire_shared_capability(__VA_ARGS__))
// On a function: tells the analysis these are held from here on (unchecked).
#define ASSERT_CAPABILITY(x) SRERACHA_THREAD_ANNOTATION(assert_capability(x))
// On a function: it returns a reference to capability `x`.
#define RETURN_CAPABILITY(x) SRERACHA_THREAD_ANNOTATION(lock_returned(x))
// On a function: the analysis skips its body. Say why next to each use.
#define NO_THREAD_SAFETY_ANALYSIS SRERACHA_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace kube {

class MutexLock;

// std::mutex, as a capability.
class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mu_.try_lock(); }

 private:
  friend class MutexLock;
  std::mutex mu_;
};

// std::shared_mutex, as a capability: many readers or one writer.
class CAPABILITY("mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  void lock_shared() ACQUIRE_SHARED() { mu_.lock_shared(); }
  void unlock_shared() RELEASE_SHARED() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

// Holds a Mutex for its scope, as std::unique_lock: unlock() and lock() let
// go of it and take it again inside the scope.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : lock_(mu.mu_) {}
  ~MutexLock() RELEASE() = default;
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void lock() ACQUIRE() { lock_.lock(); }
  void unlock() RELEASE() { lock_.unlock(); }

  // For std::condition_variable's waits only. A wait lets go of the mutex and
  // takes it again before it returns (and before it calls its predicate), so
  // to the analysis the mutex stays held across it, which is what the code
  // after the wait relies on. A predicate that reads guarded members says
  // REQUIRES(mu) itself: [&]() REQUIRES(mu_) { return stop_; }.
  std::unique_lock<std::mutex>& native() { return lock_; }

 private:
  std::unique_lock<std::mutex> lock_;
};

// Lets go of a Mutex the caller holds for its scope and takes it again at the
// end, also when an exception leaves the scope (so that the caller's
// MutexLock never unlocks a mutex it does not hold). RELEASE() on the
// destructor is how the analysis spells "the scope ends": here that gives
// the mutex back to the caller.
class SCOPED_CAPABILITY MutexUnlock {
 public:
  explicit MutexUnlock(Mutex& mu) RELEASE(mu) : mu_(mu) { mu_.unlock(); }
  ~MutexUnlock() RELEASE() { mu_.lock(); }
  MutexUnlock(const MutexUnlock&) = delete;
  MutexUnlock& operator=(const MutexUnlock&) = delete;

 private:
  Mutex& mu_;
};

// Holds a SharedMutex exclusively for its scope.
class SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~WriterLock() RELEASE() { mu_.unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex& mu_;
};

// Holds a SharedMutex shared for its scope: readers do not exclude each other.
class SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex& mu) ACQUIRE_SHARED(mu) : mu_(mu) { mu_.lock_shared(); }
  ~ReaderLock() RELEASE() { mu_.unlock_shared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex& mu_;
};

}  // namespace kube
