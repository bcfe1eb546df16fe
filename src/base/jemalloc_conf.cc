// jemalloc's options for the programs linked with it (cmake/Dependencies.cmake,
// `waggle_allocator`); MALLOC_CONF, when set, still decides. An arena per CPU, as main's glibc
// setting had (docs/architecture.md, "Threads"): jemalloc's default of four per CPU held about
// half as much memory again under otlp_ingest_bench.
extern "C" {
extern const char* malloc_conf;
const char* malloc_conf = "percpu_arena:percpu";
}
