# aws_iam_role + aws_iam_role_policy, and a secret whose resource policy names the role; the
# change widens the role's inline policy.
variable "prefix" { type = string }
variable "modified" { type = bool }

locals {
  name = replace(var.prefix, "/[^\\w+=,.@-]/", "-")
}

resource "aws_iam_role" "app" {
  name = "${local.name}-app"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::000000000000:root" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "read" {
  name = "read"
  role = aws_iam_role.app.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = var.modified ? ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"] : ["secretsmanager:GetSecretValue"]
      Resource = aws_secretsmanager_secret.this.arn
    }]
  })
}

resource "aws_secretsmanager_secret" "this" {
  name                    = "${var.prefix}/for-role"
  recovery_window_in_days = 0
}

resource "aws_secretsmanager_secret_policy" "this" {
  secret_arn = aws_secretsmanager_secret.this.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = aws_iam_role.app.arn }
      Action    = "secretsmanager:GetSecretValue"
      Resource  = "*"
    }]
  })
}

output "arn" { value = aws_secretsmanager_secret.this.arn }
output "role" { value = aws_iam_role.app.name }
