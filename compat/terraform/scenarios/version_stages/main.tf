# Two versions with explicit staging labels; the change adds and removes labels in place
# (UpdateSecretVersionStage) without replacing either version.
variable "prefix" { type = string }
variable "modified" { type = bool }

resource "aws_secretsmanager_secret" "this" {
  name                    = "${var.prefix}/staged"
  recovery_window_in_days = 0
}

resource "aws_secretsmanager_secret_version" "current" {
  secret_id      = aws_secretsmanager_secret.this.id
  secret_string  = "blue value"
  version_stages = var.modified ? ["AWSCURRENT", "blue", "stable"] : ["AWSCURRENT", "blue"]
}

resource "aws_secretsmanager_secret_version" "candidate" {
  secret_id      = aws_secretsmanager_secret.this.id
  secret_string  = "green value"
  version_stages = var.modified ? ["canary"] : ["green", "canary-next"]
  depends_on     = [aws_secretsmanager_secret_version.current]
}

output "arn" { value = aws_secretsmanager_secret.this.arn }
output "current_version" { value = aws_secretsmanager_secret_version.current.version_id }
output "candidate_version" { value = aws_secretsmanager_secret_version.candidate.version_id }
