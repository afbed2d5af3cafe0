# The provider against a smemu in `--auth strict` mode: every request it signs (STS at start-up
# included) must pass smemu's SigV4 verification.
variable "prefix" { type = string }
variable "modified" { type = bool }

resource "aws_secretsmanager_secret" "this" {
  name                    = "${var.prefix}/signed"
  description             = "made with verified signatures"
  recovery_window_in_days = 0
  tags                    = { auth = "strict" }
}

resource "aws_secretsmanager_secret_version" "this" {
  secret_id     = aws_secretsmanager_secret.this.id
  secret_string = "signed value"
}

output "arn" { value = aws_secretsmanager_secret.this.arn }
