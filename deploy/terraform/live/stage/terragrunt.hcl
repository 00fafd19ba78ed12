include "root" {
  path = find_in_parent_folders("root.hcl")
}

terraform {
  # Pinned by tag: scripts/release moves every environment to the same tag.
  source = "git::https://github.com/thats-amore/amore.git//deploy/terraform/modules/amore-kafka?ref=v0.9.0"
}

inputs = {
  kafka_bootstrap_servers = ["kafka-0.stage.amore.internal:9093", "kafka-1.stage.amore.internal:9093", "kafka-2.stage.amore.internal:9093"]
  partitions              = 12
  replication_factor      = 3
  min_insync_replicas     = 2
}
