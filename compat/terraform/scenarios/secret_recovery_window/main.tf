# recovery_window_in_days = 7: destroying schedules the deletion instead of deleting at once.
variable "prefix" { type = string }
variable "modified" { type = bool }

resource "aws_secretsmanager_secret" "this" {
  name                    = "${var.prefix}/kept-a-week"
  description             = var.modified ? "still kept a week" : "kept a week"
  recovery_window_in_days = 7
}

output "arn" { value = aws_secretsmanager_secret.this.arn }
