# The VPC, offline for the example: terraform_data is built into OpenTofu,
# so init, plan and apply need no provider download and no cloud account.
variable "region" {
  type = string
}

variable "cidr" {
  type = string
}

variable "subnets" {
  type = number
}

resource "terraform_data" "vpc" {
  input = {
    region  = var.region
    cidr    = var.cidr
    subnets = var.subnets
  }
}

output "vpc" {
  value = terraform_data.vpc.output
}
