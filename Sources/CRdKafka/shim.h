// The one C header Swift sees. Everything librdkafka offers only as a macro or a
// variadic function is re-exposed here as a constant or an inline wrapper.
#ifndef AMORE_CRDKAFKA_SHIM_H
#define AMORE_CRDKAFKA_SHIM_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stddef.h>

// 2.0.2 (Debian 12) mis-parses tagged fields of flexible-version responses and cannot
// talk to current brokers; fail at compile time if the old headers were picked up.
#if RD_KAFKA_VERSION < 0x020800ff
#error "librdkafka >= 2.8.0 is required: run scripts/setup (these headers are older)"
#endif

/// The header version this module was compiled against, for the run-time check.
static const int amore_rdkafka_header_version = RD_KAFKA_VERSION;

static const int32_t amore_partition_unassigned = RD_KAFKA_PARTITION_UA;
static const int64_t amore_offset_beginning = RD_KAFKA_OFFSET_BEGINNING;
static const int64_t amore_offset_end = RD_KAFKA_OFFSET_END;
static const int64_t amore_offset_stored = RD_KAFKA_OFFSET_STORED;
static const int64_t amore_offset_invalid = RD_KAFKA_OFFSET_INVALID;
static const int amore_msg_flag_copy = RD_KAFKA_MSG_F_COPY;

/// rd_kafka_producev without varargs. On success librdkafka owns `headers`;
/// on failure the caller still does and must destroy them.
static inline rd_kafka_resp_err_t amore_produce(rd_kafka_t *rk, rd_kafka_topic_t *rkt,
                                                int32_t partition, int msgflags,
                                                const void *key, size_t key_len,
                                                const void *value, size_t value_len,
                                                rd_kafka_headers_t *headers,
                                                int64_t timestamp_ms, void *opaque) {
    if (headers != NULL) {
        return rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                                 RD_KAFKA_V_MSGFLAGS(msgflags),
                                 RD_KAFKA_V_KEY((void *)key, key_len),
                                 RD_KAFKA_V_VALUE((void *)value, value_len),
                                 RD_KAFKA_V_HEADERS(headers),
                                 RD_KAFKA_V_TIMESTAMP(timestamp_ms),
                                 RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    }
    return rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                             RD_KAFKA_V_MSGFLAGS(msgflags),
                             RD_KAFKA_V_KEY((void *)key, key_len),
                             RD_KAFKA_V_VALUE((void *)value, value_len),
                             RD_KAFKA_V_TIMESTAMP(timestamp_ms),
                             RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
}

#endif
