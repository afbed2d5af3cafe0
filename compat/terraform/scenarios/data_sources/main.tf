# Every Secrets Manager data source reading a secret made here; the suite compares what they
# read with what was written. Re-reading them on each plan must change nothing.
variable "prefix" { type = string }
variable "modified" { type = bool }

resource "aws_secretsmanager_secret" "this" {
  name                    = "${var.prefix}/read-me"
  description             = var.modified ? "read again" : "read by data sources"
  recovery_window_in_days = 0
  tags                    = { reader = "terraform" }
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::000000000000:root" }
      Action    = "secretsmanager:GetSecretValue"
      Resource  = "*"
    }]
  })
}

resource "aws_secretsmanager_secret_version" "first" {
  secret_id     = aws_secretsmanager_secret.this.id
  secret_string = "first value"
}

resource "aws_secretsmanager_secret_version" "second" {
  secret_id     = aws_secretsmanager_secret.this.id
  secret_string = var.modified ? "third value" : "second value"
  depends_on    = [aws_secretsmanager_secret_version.first]
}

data "aws_secretsmanager_secret" "by_name" {
  name       = aws_secretsmanager_secret.this.name
  depends_on = [aws_secretsmanager_secret_version.second]
}

data "aws_secretsmanager_secret" "by_arn" {
  arn        = aws_secretsmanager_secret.this.arn
  depends_on = [aws_secretsmanager_secret_version.second]
}

data "aws_secretsmanager_secret_version" "current" {
  secret_id  = aws_secretsmanager_secret.this.id
  depends_on = [aws_secretsmanager_secret_version.second]
}

data "aws_secretsmanager_secret_version" "previous" {
  secret_id     = aws_secretsmanager_secret.this.id
  version_stage = "AWSPREVIOUS"
  depends_on    = [aws_secretsmanager_secret_version.second]
}

data "aws_secretsmanager_secret_version" "by_id" {
  secret_id  = aws_secretsmanager_secret.this.id
  version_id = aws_secretsmanager_secret_version.first.version_id
}

data "aws_secretsmanager_secret_versions" "all" {
  secret_id  = aws_secretsmanager_secret.this.id
  depends_on = [aws_secretsmanager_secret_version.second]
}

data "aws_secretsmanager_secrets" "by_name" {
  filter {
    name   = "name"
    values = [aws_secretsmanager_secret.this.name]
  }
  depends_on = [aws_secretsmanager_secret_version.second]
}

data "aws_secretsmanager_secrets" "by_tag" {
  filter {
    name   = "tag-key"
    values = ["reader"]
  }
  filter {
    name   = "name"
    values = [var.prefix]
  }
  depends_on = [aws_secretsmanager_secret.this]
}

# Filters AWS combines with AND, one negated: a description word, not this run's other scenarios.
data "aws_secretsmanager_secrets" "by_description" {
  filter {
    name   = "description"
    values = [var.modified ? "again" : "data"]
  }
  filter {
    name   = "tag-value"
    values = ["terraform"]
  }
  filter {
    name   = "name"
    values = ["!${var.prefix}-nothing-here"]
  }
  depends_on = [aws_secretsmanager_secret.this]
}

data "aws_secretsmanager_random_password" "this" {
  password_length            = 40
  exclude_punctuation        = true
  require_each_included_type = true
}

output "arn" { value = aws_secretsmanager_secret.this.arn }
output "name" { value = aws_secretsmanager_secret.this.name }
output "first_version" { value = aws_secretsmanager_secret_version.first.version_id }
output "second_version" { value = aws_secretsmanager_secret_version.second.version_id }
output "by_name" {
  value = {
    arn          = data.aws_secretsmanager_secret.by_name.arn
    name         = data.aws_secretsmanager_secret.by_name.name
    description  = data.aws_secretsmanager_secret.by_name.description
    kms_key_id   = data.aws_secretsmanager_secret.by_name.kms_key_id
    policy       = data.aws_secretsmanager_secret.by_name.policy
    tags         = data.aws_secretsmanager_secret.by_name.tags
    created_date = data.aws_secretsmanager_secret.by_name.created_date
  }
}
output "by_arn" {
  value = {
    arn         = data.aws_secretsmanager_secret.by_arn.arn
    name        = data.aws_secretsmanager_secret.by_arn.name
    description = data.aws_secretsmanager_secret.by_arn.description
  }
}
output "current" {
  sensitive = true
  value = {
    secret_string  = data.aws_secretsmanager_secret_version.current.secret_string
    version_id     = data.aws_secretsmanager_secret_version.current.version_id
    version_stages = data.aws_secretsmanager_secret_version.current.version_stages
  }
}
output "previous" {
  sensitive = true
  value = {
    secret_string  = data.aws_secretsmanager_secret_version.previous.secret_string
    version_id     = data.aws_secretsmanager_secret_version.previous.version_id
    version_stages = data.aws_secretsmanager_secret_version.previous.version_stages
  }
}
output "by_id" {
  sensitive = true
  value = {
    secret_string = data.aws_secretsmanager_secret_version.by_id.secret_string
    version_id    = data.aws_secretsmanager_secret_version.by_id.version_id
  }
}
output "versions" {
  value = [for v in data.aws_secretsmanager_secret_versions.all.versions : { id = v.version_id, stages = v.version_stages }]
}
output "names" { value = data.aws_secretsmanager_secrets.by_name.names }
output "arns" { value = data.aws_secretsmanager_secrets.by_name.arns }
output "tagged_names" { value = data.aws_secretsmanager_secrets.by_tag.names }
output "described_names" { value = data.aws_secretsmanager_secrets.by_description.names }
# The password itself is new on every read; its shape is not.
output "password_length" { value = nonsensitive(length(data.aws_secretsmanager_random_password.this.random_password)) }
output "password_alphanumeric" {
  value = nonsensitive(can(regex("^[A-Za-z0-9]+$", data.aws_secretsmanager_random_password.this.random_password)))
}
