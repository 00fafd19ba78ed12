# What every environment shares: state in that environment's bucket, and the Kafka
# provider configured from the environment's inputs. Each environment's folder holds only
# its own values and the module tag it runs.
locals {
  environment = basename(get_terragrunt_dir())
}

remote_state {
  backend = "s3"
  config = {
    bucket         = "thats-amore-terraform-${local.environment}"
    key            = "amore-kafka/terraform.tfstate"
    region         = "us-east-2"
    encrypt        = true
    dynamodb_table = "thats-amore-terraform-locks"
  }
  generate = {
    path      = "backend.tf"
    if_exists = "overwrite_terragrunt"
  }
}

# The admin credential comes from the CI runner's environment (KAFKA_USERNAME /
# KAFKA_PASSWORD, read by the provider), never from a file in this repository.
generate "provider" {
  path      = "provider.tf"
  if_exists = "overwrite_terragrunt"
  contents  = <<-PROVIDER
    variable "kafka_bootstrap_servers" {
      type = list(string)
    }
    provider "kafka" {
      bootstrap_servers = var.kafka_bootstrap_servers
      tls_enabled       = true
      sasl_mechanism    = "scram-sha512"
    }
  PROVIDER
}

# The environment is the folder's name. The same principals in every environment (each environment's cluster has its own
# credentials for them); an environment's folder may override.
inputs = {
  environment = local.environment
  principals = {
    engine                  = "amore-engine"
    api_tier                = "amore-serve"
    restaurant_integrations = "restaurant-integrations"
    courier_backend         = "courier-backend"
  }
}
