# A string value; changing it replaces the version resource with a new version.
variable "prefix" { type = string }
variable "modified" { type = bool }

resource "aws_secretsmanager_secret" "this" {
  name                    = "${var.prefix}/db"
  recovery_window_in_days = 0
}

resource "aws_secretsmanager_secret_version" "this" {
  secret_id = aws_secretsmanager_secret.this.id
  secret_string = jsonencode({
    username = "app"
    password = var.modified ? "second-password" : "first-password"
    note     = "ünïcødé ✓, a tab\t, a newline\n, a quote \" and <html> & more"
  })
}

output "arn" { value = aws_secretsmanager_secret.this.arn }
output "version_id" { value = aws_secretsmanager_secret_version.this.version_id }
