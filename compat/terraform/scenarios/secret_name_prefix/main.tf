# name_prefix: the provider makes the name; the change drops the description and adds a tag.
variable "prefix" { type = string }
variable "modified" { type = bool }

resource "aws_secretsmanager_secret" "this" {
  name_prefix             = "${var.prefix}/gen-"
  description             = var.modified ? null : "to be removed"
  recovery_window_in_days = 0
  tags                    = var.modified ? { added = "yes" } : {}
}

output "arn" { value = aws_secretsmanager_secret.this.arn }
output "name" { value = aws_secretsmanager_secret.this.name }
