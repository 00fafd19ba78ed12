output "topics" {
  description = "The topics, by role, with their partition count."
  value = {
    environment  = var.environment
    partitions   = var.partitions
    restaurants  = kafka_topic.restaurants.name
    orders       = kafka_topic.orders.name
    couriers     = kafka_topic.couriers.name
    rankings     = kafka_topic.rankings.name
    dead_letters = kafka_topic.dead_letters.name
    checkpoints  = kafka_topic.checkpoints.name
  }
}

output "acl_count" {
  description = "How many ACLs the module grants (a change here is worth a look in review)."
  value       = length(kafka_acl.topics) + 2
}
