# The DNS zones, planned nightly to spot drift (plan_only: never applied).
variable "region" {
  type = string
}

resource "terraform_data" "zone" {
  input = "acme.internal (${var.region})"
}
