# A secret with a 7-day recovery window that is destroyed and then recreated under the same
# name: refused while the name is scheduled for deletion, accepted once smemu's clock has moved
# past the window.
variable "prefix" { type = string }
variable "modified" { type = bool }

resource "aws_secretsmanager_secret" "this" {
  name                    = "${var.prefix}/reused-name"
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "this" {
  secret_id     = aws_secretsmanager_secret.this.id
  secret_string = "value"
}

output "arn" { value = aws_secretsmanager_secret.this.arn }
