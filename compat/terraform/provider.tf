# The provider as an application's configuration would point it at smemu: its own endpoints
# for Secrets Manager, STS and IAM, fixed test credentials from the environment, and none of the
# skip_* flags, so the provider's STS GetCallerIdentity at start-up is answered by smemu.
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100.0, < 6.0.0"
    }
  }
}

variable "endpoint" { type = string }

provider "aws" {
  region = "us-east-1"

  endpoints {
    secretsmanager = var.endpoint
    sts            = var.endpoint
    iam            = var.endpoint
  }
}
