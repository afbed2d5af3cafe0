# A secret with a name, a description and tags; the change rewrites the description and moves
# tags (one changed, one removed, one added, one with an empty value). The name uses every
# punctuation mark AWS allows in names. Deleted without a recovery window.
variable "prefix" { type = string }
variable "modified" { type = bool }

resource "aws_secretsmanager_secret" "this" {
  name                    = "${var.prefix}/app+v1=x.y@z_w-1"
  description             = var.modified ? "changed by terraform: ünïcødé, \"quotes\", a\ttab" : "made by terraform"
  recovery_window_in_days = 0
  tags = var.modified ? {
    team  = "platform"
    stage = "prod"
    blank = ""
    } : {
    team          = "core"
    env           = "test"
    "cost:center" = "a b/c+d=e.f@g"
  }
}

output "arn" { value = aws_secretsmanager_secret.this.arn }
output "name" { value = aws_secretsmanager_secret.this.name }
