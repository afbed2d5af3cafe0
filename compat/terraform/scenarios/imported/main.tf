# A secret made through the API before Terraform knows it (the suite makes it, then runs
# `terraform import` for each resource here). The configuration says what the secret already
# is, so the plan after the imports must be empty.
variable "prefix" { type = string }
variable "modified" { type = bool }

resource "aws_secretsmanager_secret" "this" {
  name        = "${var.prefix}/legacy"
  description = "made before terraform"
  kms_key_id  = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  tags        = { owner = "ops", imported = "yes" }
}

resource "aws_secretsmanager_secret_version" "this" {
  secret_id     = aws_secretsmanager_secret.this.id
  secret_string = jsonencode({ username = "legacy", password = "from-the-api" })
}

resource "aws_secretsmanager_secret_policy" "this" {
  secret_arn = aws_secretsmanager_secret.this.arn
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

output "arn" { value = aws_secretsmanager_secret.this.arn }
