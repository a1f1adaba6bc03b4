cidr    = "10.20.0.0/16"
subnets = 3
