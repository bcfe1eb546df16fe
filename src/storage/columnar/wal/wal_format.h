#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

// Constants of the WAL's on-disk format; docs/wal-format.md describes it in prose.
namespace waggle::storage::columnar::wal_format {

// Every segment file starts with this 16-byte header: magic, format version, then (version 4)
// the number the file had before it was reused as this segment, 0 for a new file (zero
// padding before version 4).
constexpr std::string_view kMagic = "WAGGLWAL";
// Version 2 added record type 2 (log groups), version 3 record type 3 (span sources), version 4
// the segment number in every record (segment files are reused); segments of older versions
// are still read.
constexpr uint32_t kVersion = 4;
constexpr size_t kFileHeaderSize = 16;

// Every record: masked CRC-32C of (type, segment number, payload) | payload length | type |
// segment number | payload.
constexpr size_t kRecordHeaderSize = 13;
// Before version 4: masked CRC-32C of (type, payload) | payload length | type | payload.
constexpr size_t kRecordHeaderSizeV3 = 9;
constexpr uint32_t kMaxRecordSize = 64u << 20;

}  // namespace waggle::storage::columnar::wal_format
