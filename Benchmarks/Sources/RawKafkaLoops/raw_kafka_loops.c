#include "raw_kafka_loops.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

typedef struct {
    int64_t delivered;
    int64_t failed;
} delivery_counts;

static void count_delivery(rd_kafka_t *rk, const rd_kafka_message_t *message, void *opaque) {
    (void)rk;
    delivery_counts *counts = opaque;
    if (message->err) counts->failed++; else counts->delivered++;
}

static rd_kafka_conf_t *make_conf(raw_kafka_config config, char *error, size_t error_len) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (int i = 0; i + 1 < config.pair_count * 2; i += 2) {
        if (rd_kafka_conf_set(conf, config.pairs[i], config.pairs[i + 1], error, error_len) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    return conf;
}

int64_t raw_kafka_produce(raw_kafka_config config, const char *topic, int64_t count,
                          const char *const *keys, int key_count,
                          const void *value, size_t value_len,
                          int64_t *elapsed_ns, char *error, size_t error_len) {
    rd_kafka_conf_t *conf = make_conf(config, error, error_len);
    if (!conf) return -1;
    delivery_counts counts = {0, 0};
    rd_kafka_conf_set_dr_msg_cb(conf, count_delivery);
    rd_kafka_conf_set_opaque(conf, &counts);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, error_len);
    if (!rk) { rd_kafka_conf_destroy(conf); return -1; }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    size_t key_lens[key_count];
    for (int k = 0; k < key_count; k++) key_lens[k] = strlen(keys[k]);

    rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                      RD_KAFKA_V_VALUE((void *)value, value_len), RD_KAFKA_V_END);
    rd_kafka_flush(rk, 10000);
    counts.delivered = 0;
    int64_t started = now_ns();

    for (int64_t i = 0; i < count; i++) {
        const char *key = keys[i % key_count];
        rd_kafka_resp_err_t err;
        while ((err = rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                        RD_KAFKA_V_KEY((void *)key, key_lens[i % key_count]),
                                        RD_KAFKA_V_VALUE((void *)value, value_len),
                                        RD_KAFKA_V_OPAQUE((void *)(intptr_t)i), RD_KAFKA_V_END))
               == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk, 10);
        }
        if (err) {
            snprintf(error, error_len, "produce: %s", rd_kafka_err2str(err));
            break;
        }
        if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 60000);
    *elapsed_ns = now_ns() - started;
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    if (counts.failed) {
        snprintf(error, error_len, "%lld records failed", (long long)counts.failed);
        return -1;
    }
    return counts.delivered;
}

int64_t raw_kafka_consume(raw_kafka_config config, const char *topic, int partitions, int64_t count,
                          int64_t *checksum, int64_t *elapsed_ns, char *error, size_t error_len) {
    rd_kafka_conf_t *conf = make_conf(config, error, error_len);
    if (!conf) return -1;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, error_len);
    if (!rk) { rd_kafka_conf_destroy(conf); return -1; }
    rd_kafka_poll_set_consumer(rk);
    // Known metadata first: assigning before it costs ~500 ms before the first fetch.
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *metadata = NULL;
    if (rd_kafka_metadata(rk, 0, rkt, &metadata, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_metadata_destroy(metadata);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);

    int64_t got = 0, sum = 0, idle = 0, started = 0;
    while (got < count && idle < 10) {
        rd_kafka_message_t *message = rd_kafka_consumer_poll(rk, 1000);
        if (!message) { idle++; continue; }
        idle = 0;
        if (!message->err) {
            if (got == 0) started = now_ns();
            got++;
            sum += (int64_t)message->len + (int64_t)message->key_len + ((const char *)message->payload)[0];
        }
        rd_kafka_message_destroy(message);
    }
    *elapsed_ns = now_ns() - started;
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    *checksum = sum;
    if (got < count) snprintf(error, error_len, "read %lld of %lld records", (long long)got, (long long)count);
    return got;
}
