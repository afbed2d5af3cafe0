# Values that never enter the state: an ephemeral random password written through the
# write-only secret_string_wo, then copied into a second secret through the ephemeral
# aws_secretsmanager_secret_version. Bumping secret_string_wo_version writes new versions.
variable "prefix" { type = string }
variable "modified" { type = bool }

locals {
  generation = var.modified ? 2 : 1
}

ephemeral "aws_secretsmanager_random_password" "this" {
  password_length = 32
}

resource "aws_secretsmanager_secret" "this" {
  name                    = "${var.prefix}/ephemeral"
  recovery_window_in_days = 0
}

resource "aws_secretsmanager_secret_version" "this" {
  secret_id                = aws_secretsmanager_secret.this.id
  secret_string_wo         = ephemeral.aws_secretsmanager_random_password.this.random_password
  secret_string_wo_version = local.generation
}

ephemeral "aws_secretsmanager_secret_version" "source" {
  secret_id  = aws_secretsmanager_secret.this.id
  version_id = aws_secretsmanager_secret_version.this.version_id
}

resource "aws_secretsmanager_secret" "copy" {
  name                    = "${var.prefix}/copy"
  recovery_window_in_days = 0
}

resource "aws_secretsmanager_secret_version" "copy" {
  secret_id                = aws_secretsmanager_secret.copy.id
  secret_string_wo         = ephemeral.aws_secretsmanager_secret_version.source.secret_string
  secret_string_wo_version = local.generation
}

output "arn" { value = aws_secretsmanager_secret.this.arn }
output "version_id" { value = aws_secretsmanager_secret_version.this.version_id }
output "copy_arn" { value = aws_secretsmanager_secret.copy.arn }
