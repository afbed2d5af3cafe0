# A binary value (bytes that are not UTF-8 included), given base64-encoded.
variable "prefix" { type = string }
variable "modified" { type = bool }

resource "aws_secretsmanager_secret" "this" {
  name                    = "${var.prefix}/blob"
  recovery_window_in_days = 0
}

resource "aws_secretsmanager_secret_version" "this" {
  secret_id     = aws_secretsmanager_secret.this.id
  secret_binary = var.modified ? "/+7dzLuqmYh3ZlVEMyIRAA==" : "AAEC/f7/gICBwsM="
}

output "arn" { value = aws_secretsmanager_secret.this.arn }
output "version_id" { value = aws_secretsmanager_secret_version.this.version_id }
