#pragma once

// Clang thread-safety annotations (checked with -Wthread-safety); no-ops elsewhere.
#if defined(__clang__)
#define WAGGLE_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define WAGGLE_THREAD_ANNOTATION_(x)
#endif

#define GUARDED_BY(x) WAGGLE_THREAD_ANNOTATION_(guarded_by(x))
#define PT_GUARDED_BY(x) WAGGLE_THREAD_ANNOTATION_(pt_guarded_by(x))
#define REQUIRES(...) WAGGLE_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) WAGGLE_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) WAGGLE_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
#define RELEASE(...) WAGGLE_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
#define CAPABILITY(x) WAGGLE_THREAD_ANNOTATION_(capability(x))
#define SCOPED_CAPABILITY WAGGLE_THREAD_ANNOTATION_(scoped_lockable)
#define NO_THREAD_SAFETY_ANALYSIS WAGGLE_THREAD_ANNOTATION_(no_thread_safety_analysis)
