# kms_key_id given as a key ARN, and a value stored under it; the change moves the secret to
# another key. A second secret names its key by id, then by alias: AWS reports the reference as
# given, and the provider compares it as a plain string. smemu has no KMS yet: it validates and reports the reference, and the provider
# never calls KMS for this attribute.
variable "prefix" { type = string }
variable "modified" { type = bool }

locals {
  key_a = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  key_b = "arn:aws:kms:us-east-1:000000000000:key/0987dcba-09fe-87dc-65ba-ab0987654321"
}

resource "aws_secretsmanager_secret" "this" {
  name                    = "${var.prefix}/encrypted"
  kms_key_id              = var.modified ? local.key_b : local.key_a
  recovery_window_in_days = 0
}

resource "aws_secretsmanager_secret_version" "this" {
  secret_id     = aws_secretsmanager_secret.this.id
  secret_string = "under a customer key"
}

resource "aws_secretsmanager_secret" "by_alias" {
  name                    = "${var.prefix}/by-alias"
  kms_key_id              = var.modified ? "alias/tf-compat" : "1234abcd-12ab-34cd-56ef-1234567890ab"
  recovery_window_in_days = 0
}

output "arn" { value = aws_secretsmanager_secret.this.arn }
output "by_alias_arn" { value = aws_secretsmanager_secret.by_alias.arn }
output "kms_key_id" { value = aws_secretsmanager_secret.this.kms_key_id }
