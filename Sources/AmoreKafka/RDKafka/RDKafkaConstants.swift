import CRdKafka

enum RDKafkaConstants {
    static let offsetBeginning = amore_offset_beginning
    static let offsetEnd = amore_offset_end
    static let offsetStored = amore_offset_stored
    static let offsetInvalid = amore_offset_invalid
    static let partitionUnassigned = amore_partition_unassigned
    static let messageFlagCopy = amore_msg_flag_copy
}
