# A policy open to everyone with block_public_policy = true: AWS refuses it, and so must smemu.
variable "prefix" { type = string }
variable "modified" { type = bool }

resource "aws_secretsmanager_secret" "this" {
  name                    = "${var.prefix}/exposed"
  recovery_window_in_days = 0
}

resource "aws_secretsmanager_secret_policy" "this" {
  secret_arn          = aws_secretsmanager_secret.this.arn
  block_public_policy = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = "*"
      Action    = "secretsmanager:GetSecretValue"
      Resource  = "*"
    }]
  })
}

output "arn" { value = aws_secretsmanager_secret.this.arn }
