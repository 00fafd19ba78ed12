output "topics" {
  description = "The topics' names by role, with the environment and their partition count."
  value = merge(
    { for role, topic in kafka_topic.amore : role => topic.name },
    { environment = var.environment, partitions = var.partitions },
  )
}

output "acl_count" {
  description = "How many ACLs the module grants (a change here is worth a look in review)."
  value       = length(kafka_acl.topics) + 2
}
