variable "name" {
  type    = string
  default = "default"
}

variable "env" {
  type    = string
  default = "none"
}

resource "terraform_data" "this" {
  input = "${var.name}-${var.env}"
}

output "value" {
  value = terraform_data.this.output
}
