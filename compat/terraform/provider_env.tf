# The same provider with no endpoints block: the endpoint comes from AWS_ENDPOINT_URL, which the
# provider honours like the AWS SDKs do.
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100.0, < 6.0.0"
    }
  }
}

provider "aws" {
  region = "us-east-1"
}
