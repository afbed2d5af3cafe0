# rotate_immediately = false: the schedule is saved (a cron expression) and the value stays.
variable "prefix" { type = string }
variable "modified" { type = bool }
variable "function_arn" { type = string }

resource "aws_secretsmanager_secret" "this" {
  name                    = "${var.prefix}/scheduled"
  recovery_window_in_days = 0
}

resource "aws_secretsmanager_secret_version" "initial" {
  secret_id     = aws_secretsmanager_secret.this.id
  secret_string = jsonencode({ username = "batch", password = "kept-until-the-window" })
}

resource "aws_secretsmanager_secret_rotation" "this" {
  secret_id           = aws_secretsmanager_secret.this.id
  rotation_lambda_arn = var.function_arn
  rotate_immediately  = false

  rotation_rules {
    schedule_expression = var.modified ? "cron(0 6 ? * SUN *)" : "cron(0 4 ? * MON *)"
  }

  depends_on = [aws_secretsmanager_secret_version.initial]
}

output "arn" { value = aws_secretsmanager_secret.this.arn }
output "initial_version" { value = aws_secretsmanager_secret_version.initial.version_id }
