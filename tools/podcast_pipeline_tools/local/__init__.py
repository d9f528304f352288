"""Local mode: the pipeline on an embedded AWS emulation (moto's server on a loopback port)."""

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
