# Amore's topics and who may do what with them. The engine creates missing topics itself
# on a laptop; in dev, stage and prod this module owns them.

locals {
  compacted = {
    "cleanup.policy"      = "compact"
    "min.insync.replicas" = tostring(var.min_insync_replicas)
  }
  input = {
    "cleanup.policy"      = "delete"
    "retention.ms"        = tostring(var.input_retention_ms)
    "min.insync.replicas" = tostring(var.min_insync_replicas)
  }
  # Checkpoints are written in 256 KB chunks: 1 MiB messages leave room for headers.
  checkpoints = merge(local.compacted, {
    "max.message.bytes"         = "1048576"
    "min.compaction.lag.ms"     = "60000"
    "delete.retention.ms"       = "3600000"
    "min.cleanable.dirty.ratio" = "0.1"
  })

  topic_configs = {
    restaurants = local.compacted
    orders      = local.input
    couriers    = local.input
    rankings    = local.compacted
    dead_letters = {
      "cleanup.policy"      = "delete"
      "retention.ms"        = tostring(var.dead_letter_retention_ms)
      "min.insync.replicas" = tostring(var.min_insync_replicas)
    }
    checkpoints = local.checkpoints
  }

  # principal => topic => operations
  topic_grants = {
    engine = {
      # No Create: this module owns the topics, and the engine creates only missing ones.
      (var.topics.restaurants)  = ["Read", "Describe"]
      (var.topics.orders)       = ["Read", "Describe"]
      (var.topics.couriers)     = ["Read", "Describe"]
      (var.topics.rankings)     = ["Write", "Describe"]
      (var.topics.dead_letters) = ["Write", "Describe"]
      (var.topics.checkpoints)  = ["Read", "Write", "Describe"]
    }
    api_tier = {
      (var.topics.rankings) = ["Read", "Describe"]
    }
    restaurant_integrations = {
      (var.topics.restaurants) = ["Write", "Describe"]
      (var.topics.orders)      = ["Write", "Describe"]
    }
    courier_backend = {
      (var.topics.couriers) = ["Write", "Describe"]
    }
  }
  topic_acls = merge([
    for service, grants in local.topic_grants : merge([
      for topic, operations in grants : {
        for operation in operations : "${service}/${topic}/${operation}" => {
          principal = var.principals[service]
          topic     = topic
          operation = operation
        }
      }
    ]...)
  ]...)
}

# Every topic has the same partition count: orders and couriers must (co-partitioning),
# and one count keeps the engine's replica ceiling one number.
resource "kafka_topic" "amore" {
  for_each           = local.topic_configs
  name               = var.topics[each.key]
  partitions         = var.partitions
  replication_factor = var.replication_factor
  config             = each.value
}

resource "kafka_acl" "topics" {
  for_each                     = local.topic_acls
  resource_name                = each.value.topic
  resource_type                = "Topic"
  resource_pattern_type_filter = "Literal"
  acl_principal                = "User:${each.value.principal}"
  acl_host                     = "*"
  acl_operation                = each.value.operation
  acl_permission_type          = "Allow"
}

# The engine's group and its profile readers' groups (engine.group + ".profiles").
resource "kafka_acl" "engine_groups" {
  resource_name                = var.engine_group
  resource_type                = "Group"
  resource_pattern_type_filter = "Prefixed"
  acl_principal                = "User:${var.principals.engine}"
  acl_host                     = "*"
  acl_operation                = "Read"
  acl_permission_type          = "Allow"
}

resource "kafka_acl" "api_tier_groups" {
  resource_name                = var.api_tier_group_prefix
  resource_type                = "Group"
  resource_pattern_type_filter = "Prefixed"
  acl_principal                = "User:${var.principals.api_tier}"
  acl_host                     = "*"
  acl_operation                = "Read"
  acl_permission_type          = "Allow"
}
