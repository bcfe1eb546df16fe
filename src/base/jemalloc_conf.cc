// jemalloc's options for the programs linked with it (cmake/Dependencies.cmake,
// `waggle_allocator`); MALLOC_CONF, when set, still decides. An arena per CPU, as main's glibc
// setting had (docs/architecture.md, "Threads"): with jemalloc's default of four per CPU,
// waggle serve's peak RSS under otlp_ingest_bench was 288 and 327 MiB in two runs, against
// 186-215 MiB in seven with one per CPU.
extern "C" {
extern const char* malloc_conf;
const char* malloc_conf = "percpu_arena:percpu";
}
