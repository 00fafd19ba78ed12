include "root" {
  path = find_in_parent_folders("root.hcl")
}

terraform {
  # Pinned by tag: scripts/release moves every environment to the same tag.
  source = "git::https://github.com/thats-amore/amore.git//deploy/terraform/modules/amore-kafka?ref=v0.9.0"
}

inputs = {
  kafka_bootstrap_servers = ["kafka.dev.amore.internal:9093"]
  partitions              = 4
  replication_factor      = 1
  min_insync_replicas     = 1
}
