# aws_secretsmanager_secret_policy with block_public_policy; the change rewrites the policy (one
# action as a string, then two as a list) and turns the block off.
variable "prefix" { type = string }
variable "modified" { type = bool }

resource "aws_secretsmanager_secret" "this" {
  name                    = "${var.prefix}/guarded"
  recovery_window_in_days = 0
}

locals {
  principal = { AWS = "arn:aws:iam::000000000000:root" }
  one_action = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AppRole"
      Effect    = "Allow"
      Principal = local.principal
      Action    = "secretsmanager:GetSecretValue"
      Resource  = "*"
    }]
  })
  two_actions = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AppRole"
      Effect    = "Allow"
      Principal = local.principal
      Action    = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
      Resource  = "*"
    }]
  })
}

resource "aws_secretsmanager_secret_policy" "this" {
  secret_arn          = aws_secretsmanager_secret.this.arn
  block_public_policy = !var.modified
  policy              = var.modified ? local.two_actions : local.one_action
}

output "arn" { value = aws_secretsmanager_secret.this.arn }
