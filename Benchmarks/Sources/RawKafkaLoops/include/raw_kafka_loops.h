// Produce and consume loops written directly on librdkafka's C API: the baseline the
// Swift layer is measured against in the same run.
#ifndef RAW_KAFKA_LOOPS_H
#define RAW_KAFKA_LOOPS_H

#include <stddef.h>
#include <stdint.h>

/// Properties as alternating key, value strings.
typedef struct {
    const char *const *pairs;
    int pair_count;
} raw_kafka_config;

/// Produces `count` records (value `value`, key `keys[i % key_count]`) and waits for
/// every delivery report. Returns the number delivered, or -1 with `error` filled in.
/// `elapsed_ns` covers the steady state only: one warm-up record is produced and
/// flushed first (connection, producer id, topic metadata), untimed.
int64_t raw_kafka_produce(raw_kafka_config config, const char *topic, int64_t count,
                          const char *const *keys, int key_count,
                          const void *value, size_t value_len,
                          int64_t *elapsed_ns, char *error, size_t error_len);

/// Reads `count` records from partitions 0..<partitions of `topic` from the beginning
/// with rd_kafka_consumer_poll, touching every key and value. Returns the number read,
/// or -1 with `error` filled in. `checksum` receives the sum of key and value lengths;
/// `elapsed_ns` runs from the first record received to the last.
int64_t raw_kafka_consume(raw_kafka_config config, const char *topic, int partitions, int64_t count,
                          int64_t *checksum, int64_t *elapsed_ns, char *error, size_t error_len);

#endif
