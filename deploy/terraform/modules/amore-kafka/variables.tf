variable "environment" {
  description = "dev, stage or prod: named in outputs and descriptions."
  type        = string
  validation {
    condition     = contains(["dev", "stage", "prod"], var.environment)
    error_message = "environment must be dev, stage or prod."
  }
}

variable "partitions" {
  description = "Partitions of every Amore topic. Orders and couriers must agree (they are co-partitioned), and this caps the engine's replicas (the chart's KEDA maximum). Equal to topics.partitions in config/<environment>.json."
  type        = number
  validation {
    condition     = var.partitions >= 1
    error_message = "partitions must be at least 1."
  }
}

variable "replication_factor" {
  description = "Replicas of each partition."
  type        = number
  default     = 3
}

variable "min_insync_replicas" {
  description = "Replicas that must have a write before it counts (with acks=all)."
  type        = number
  default     = 2
}

variable "input_retention_ms" {
  description = "Retention of the order and courier topics. Amore's rule (docs/checkpoints.md): twice the checkpoint refresh (10 min) plus a 60 min margin = 80 min; more only costs disk."
  type        = number
  default     = 4800000
  validation {
    condition     = var.input_retention_ms >= 4800000
    error_message = "input_retention_ms below 80 min breaks restore from checkpoints (docs/checkpoints.md)."
  }
}

variable "dead_letter_retention_ms" {
  description = "Retention of the dead-letter topic: long enough for the integration owners to look."
  type        = number
  default     = 604800000
}

variable "topics" {
  description = "Topic names (the engine's defaults)."
  type = object({
    restaurants  = string
    orders       = string
    couriers     = string
    rankings     = string
    dead_letters = string
    checkpoints  = string
  })
  default = {
    restaurants  = "amore.restaurants"
    orders       = "amore.orders"
    couriers     = "amore.couriers"
    rankings     = "amore.rankings"
    dead_letters = "amore.deadletter"
    checkpoints  = "amore.checkpoints"
  }
}

variable "engine_group" {
  description = "The engine's consumer group (engine.group); its profile readers use groups with this prefix."
  type        = string
  default     = "amore-engine"
}

variable "principals" {
  description = "Kafka principals, one per service: access is granted per service, never shared."
  type = object({
    engine                  = string
    api_tier                = string
    restaurant_integrations = string
    courier_backend         = string
  })
}

variable "api_tier_group_prefix" {
  description = "Consumer groups the API tier's followers of the rankings topic may use."
  type        = string
  default     = "amore-serve"
}
