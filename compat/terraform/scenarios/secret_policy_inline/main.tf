# A resource policy given in the secret's own `policy` argument; the change adds a statement.
variable "prefix" { type = string }
variable "modified" { type = bool }

locals {
  read = {
    Sid       = "ReadByTheAccount"
    Effect    = "Allow"
    Principal = { AWS = "arn:aws:iam::000000000000:root" }
    Action    = "secretsmanager:GetSecretValue"
    Resource  = "*"
  }
  deny_delete = {
    Sid       = "NoDelete"
    Effect    = "Deny"
    Principal = { AWS = "arn:aws:iam::000000000000:root" }
    Action    = ["secretsmanager:DeleteSecret", "secretsmanager:PutResourcePolicy"]
    Resource  = "*"
  }
}

resource "aws_secretsmanager_secret" "this" {
  name                    = "${var.prefix}/with-policy"
  recovery_window_in_days = 0
  policy = (var.modified
    ? jsonencode({ Version = "2012-10-17", Statement = [local.read, local.deny_delete] })
    : jsonencode({ Version = "2012-10-17", Statement = [local.read] })
  )
}

output "arn" { value = aws_secretsmanager_secret.this.arn }
