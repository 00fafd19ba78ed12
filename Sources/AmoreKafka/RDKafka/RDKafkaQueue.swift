import CRdKafka

/// Batch consumption from one librdkafka queue (the consumer's, or one partition's).
enum RDKafkaQueue {
    static func poll<R>(_ queue: OpaquePointer, callbacks: RDKafkaCallbacks, maxRecords: Int, timeout_ms: Int32,
                        _ body: (RecordBatch) throws -> R) rethrows -> R {
        precondition(maxRecords > 0, "maxRecords must be positive")
        return try withUnsafeTemporaryAllocation(of: OpaquePointer?.self, capacity: maxRecords) { buffer in
            let messages = UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>(OpaquePointer(buffer.baseAddress!))
            // librdkafka's batch call waits until the batch is full or the timeout passes,
            // even with records queued: live, every record would wait out the timeout. So:
            // take what is queued; if nothing is, wait for one record, then take the rest.
            var count = max(0, rd_kafka_consume_batch_queue(queue, 0, messages, maxRecords))
            if count == 0 && timeout_ms != 0 {
                count = max(0, rd_kafka_consume_batch_queue(queue, timeout_ms, messages, 1))
                if count == 1 && maxRecords > 1 {
                    count += max(0, rd_kafka_consume_batch_queue(queue, 0, messages + 1, maxRecords - 1))
                }
            }
            // Keep good records at the front; report and release the error events.
            var kept = 0
            var reachedEnd: [TopicPartition] = []
            for index in 0..<count {
                let message = UnsafeMutablePointer<rd_kafka_message_t>(buffer[index]!)
                let err = message.pointee.err
                if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                    buffer[kept] = buffer[index]
                    kept += 1
                    continue
                }
                let topic = message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) }
                if err == RD_KAFKA_RESP_ERR__PARTITION_EOF, let topic {
                    reachedEnd.append(TopicPartition(topic, message.pointee.partition, offset: message.pointee.offset))
                } else {
                    let text = String(cString: rd_kafka_message_errstr(message))
                    let where_ = topic.map { "consume \($0)[\(message.pointee.partition)]" } ?? "consume"
                    let error = KafkaError(err, message: text, context: where_)
                    callbacks.noteProblem(error.message)
                    callbacks.onError(error)
                }
                rd_kafka_message_destroy(message)
            }
            defer {
                for index in 0..<kept { rd_kafka_message_destroy(UnsafeMutablePointer(buffer[index]!)) }
            }
            return try body(RecordBatch(messages: UnsafeBufferPointer(rebasing: buffer[0..<kept]), reachedEnd: reachedEnd))
        }
    }
}
