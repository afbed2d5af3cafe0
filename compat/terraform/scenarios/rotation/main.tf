# Rotation through a function ARN bound to smemu's built-in rotation hook (the suite binds it
# before applying). Rotates at once on creation; the change moves from a day count to a rate
# expression with a window. The rotation data source reads the result.
variable "prefix" { type = string }
variable "modified" { type = bool }
variable "function_arn" { type = string }

resource "aws_secretsmanager_secret" "this" {
  name                    = "${var.prefix}/rotated"
  recovery_window_in_days = 0
}

resource "aws_secretsmanager_secret_version" "initial" {
  secret_id     = aws_secretsmanager_secret.this.id
  secret_string = jsonencode({ username = "app", password = "initial-password" })
}

resource "aws_secretsmanager_secret_rotation" "this" {
  secret_id           = aws_secretsmanager_secret.this.id
  rotation_lambda_arn = var.function_arn

  rotation_rules {
    automatically_after_days = var.modified ? null : 30
    schedule_expression      = var.modified ? "rate(10 days)" : null
    duration                 = var.modified ? "3h" : null
  }

  depends_on = [aws_secretsmanager_secret_version.initial]
}

data "aws_secretsmanager_secret_rotation" "this" {
  secret_id  = aws_secretsmanager_secret.this.id
  depends_on = [aws_secretsmanager_secret_rotation.this]
}

output "arn" { value = aws_secretsmanager_secret.this.arn }
output "initial_version" { value = aws_secretsmanager_secret_version.initial.version_id }
output "rotation_enabled" { value = data.aws_secretsmanager_secret_rotation.this.rotation_enabled }
output "rotation_lambda_arn" { value = data.aws_secretsmanager_secret_rotation.this.rotation_lambda_arn }
output "rotation_rules" { value = data.aws_secretsmanager_secret_rotation.this.rotation_rules }
