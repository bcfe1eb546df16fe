#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "codec/otlp/proto_wire.h"

// Protobuf messages built field by field, for tests and benchmarks that need bodies no
// generated code writes (fields out of order, malformed wire) or need no generated code.
namespace waggle::codec::otlp::test_util {

class ProtoBuilder {
 public:
  ProtoBuilder& Varint(uint32_t field, uint64_t v) {
    wire::PutTag(&data_, field, wire::kVarint);
    wire::PutVarint(&data_, v);
    return *this;
  }
  ProtoBuilder& Fixed64(uint32_t field, uint64_t v) {
    wire::PutTag(&data_, field, wire::kFixed64);
    wire::PutFixed64(&data_, v);
    return *this;
  }
  ProtoBuilder& Fixed32(uint32_t field, uint32_t v) {
    wire::PutTag(&data_, field, wire::kFixed32);
    wire::PutFixed32(&data_, v);
    return *this;
  }
  ProtoBuilder& Bytes(uint32_t field, std::string_view v) {
    wire::PutBytes(&data_, field, v);
    return *this;
  }
  ProtoBuilder& Message(uint32_t field, const ProtoBuilder& m) { return Bytes(field, m.data_); }
  ProtoBuilder& Raw(std::string_view raw) {
    data_.append(raw);
    return *this;
  }
  const std::string& data() const { return data_; }

 private:
  std::string data_;
};

}  // namespace waggle::codec::otlp::test_util
