#pragma once

#include <string>

#include "base/result.h"

namespace waggle::server {

// `waggle inspect DATA_DIR`: what the store holds on disk: each block (spans, traces, time
// range, bytes), bytes and compression ratio per column, and the write-ahead log. Reads
// footers and sizes only, so it can run beside a live server.
Result<std::string> InspectDataDir(const std::string& data_dir);

}  // namespace waggle::server
